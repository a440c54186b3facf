"""The farm: one Django deployment hosting many sites, each in its own PostgreSQL schema."""
from farm.celery import app as celery_app

__all__ = ["celery_app"]
