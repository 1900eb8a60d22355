from django.apps import AppConfig


class IntakeConfig(AppConfig):
    name = "januscaler_refunds.intake"
    label = "intake"
