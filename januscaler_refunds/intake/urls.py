from django.urls import path

from januscaler_refunds.intake import views

app_name = "intake"
urlpatterns = [path("inbound/", views.inbound_mail, name="inbound")]
