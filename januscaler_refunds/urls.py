from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from januscaler_refunds.ops.health import health

# No URL serves MEDIA_ROOT directly, in any mode: documents, raw emails and exports are read only
# through the permission-checked download views (attachment + nosniff). See SECURITY.md.
# ADMIN_URL moves the console off the guessable /admin/ (default "admin/").
urlpatterns = [
    path("", RedirectView.as_view(url=f"/{settings.ADMIN_URL}", permanent=False)),
    path(f"{settings.ADMIN_URL}reports/", include("januscaler_refunds.reports.urls")),
    path(f"{settings.ADMIN_URL}otp/", include("januscaler_refunds.accounts.urls")),
    path(settings.ADMIN_URL, admin.site.urls),
    path("intake/", include("januscaler_refunds.intake.urls")),
    path("health/", health, name="health"),
]
