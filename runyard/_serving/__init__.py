"""Serving backends: where a deployed web service's scoring processes run.

One small interface (``base.ServingBackend``): deploy, update, status, logs, delete, and
``revive`` for the agent's supervision. ``local`` runs each service as a host process of
this machine that owns the listening socket and its scoring workers; Ray Serve can be a
second implementation of the same interface.
"""
