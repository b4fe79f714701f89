"""Tests of runyard._store."""
