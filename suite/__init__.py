"""Communs platform: identity, access, API, realtime, storage, tasks shared by every app."""

from suite.celery import app as celery_app

__all__ = ["celery_app"]
__version__ = "0.1.0"
