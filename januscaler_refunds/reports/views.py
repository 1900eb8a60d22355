"""Report views. The export and dashboard are built in the reports issue."""

from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse


@staff_member_required
def refund_export(request: HttpRequest) -> HttpResponse:
    return HttpResponse("The refund export is not built yet.", status=501, content_type="text/plain")


@staff_member_required
def dashboard(request: HttpRequest) -> HttpResponse:
    return HttpResponse("The dashboard is not built yet.", status=501, content_type="text/plain")
