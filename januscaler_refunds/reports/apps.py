from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "januscaler_refunds.reports"
    label = "reports"
