from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "januscaler_refunds.billing"
    label = "billing"
