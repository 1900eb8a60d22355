"""Report URLs, mounted under /admin/reports/ (staff only)."""

from django.urls import path

from januscaler_refunds.reports import views

app_name = "reports"

urlpatterns = [
    path("export/refunds/", views.refund_export, name="refund_export"),
    path("dashboard/", views.dashboard, name="dashboard"),
]
