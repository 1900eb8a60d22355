from django.apps import AppConfig


class OpsConfig(AppConfig):
    """Operations: health endpoint, worker/beat heartbeats, request and task context in logs."""

    name = "januscaler_refunds.ops"
    label = "ops"
