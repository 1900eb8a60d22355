"""Januscaler Refunds: the billing team's refund back-office."""

# Load the Celery app whenever Django starts (gunicorn, manage.py, the worker), as Celery's
# "First steps with Django" prescribes: `@shared_task`s then bind to this app and its
# CELERY_BROKER_URL rather than to Celery's default app (amqp://localhost).
from .celery import app as celery_app

__all__ = ("celery_app",)
