"""Runyard: train, track, tune, register and deploy ML models, with the Azure ML v1 SDK's names."""

__version__ = "0.1.0"
