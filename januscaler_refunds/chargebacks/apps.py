from django.apps import AppConfig


class ChargebacksConfig(AppConfig):
    name = "januscaler_refunds.chargebacks"
    label = "chargebacks"
