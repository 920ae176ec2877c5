"""Vanishing and exploding gradients: configurable networks, instrumented training, a run store.

This package never imports streamlit; the app's pages import it, never the reverse.
"""
from .base.config import ConfigError, RunConfig

__all__ = ["ConfigError", "RunConfig"]
