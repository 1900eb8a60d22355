"""Second-factor pages, mounted under the admin URL (ADMIN_URL + "otp/")."""

from django.urls import path

from januscaler_refunds.accounts import views

app_name = "accounts"
urlpatterns = [
    path("verify/", views.otp_verify, name="otp_verify"),
    path("enrol/", views.otp_enrol, name="otp_enrol"),
]
