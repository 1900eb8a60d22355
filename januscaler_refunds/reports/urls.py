"""Report URLs, mounted under /admin/reports/ (staff only)."""

from django.urls import path

from januscaler_refunds.reports import views

app_name = "reports"

urlpatterns = [
    path("export/refunds/", views.refund_export, name="refund_export"),
    path("exports/", views.exports, name="exports"),
    path("exports/<int:pk>/download/", views.export_download, name="export_download"),
    path("dashboard/", views.dashboard, name="dashboard"),
]
