"""URLs of verification: the report pages."""

from django.urls import path

from verification.gate import views

app_name = "verification"

urlpatterns = [
    path("verification/v<int:number>/", views.report_detail, name="report"),
    path("verification/v<int:number>/report.json", views.report_download, name="report-json"),
]
