from django.apps import AppConfig


class RefundsConfig(AppConfig):
    name = "januscaler_refunds.refunds"
    label = "refunds"
