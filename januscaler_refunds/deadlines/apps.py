from django.apps import AppConfig


class DeadlinesConfig(AppConfig):
    name = "januscaler_refunds.deadlines"
    label = "deadlines"
