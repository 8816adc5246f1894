"""URLs of verification: the report pages, the release pages and the subject's certificate."""

from django.urls import path

from verification.gate import views
from verification.releases import views as releases

app_name = "verification"

urlpatterns = [
    path("verification/v<int:number>/", views.report_detail, name="report"),
    path("verification/v<int:number>/report.json", views.report_download, name="report-json"),
    path("releases/", releases.release_list, name="releases"),
    path("releases/v<int:number>/", releases.release_detail, name="release"),
    path("releases/v<int:number>/approve", releases.release_approve, name="release-approve"),
    path("releases/v<int:number>/refuse", releases.release_refuse, name="release-refuse"),
    path("releases/v<int:number>/publish", releases.release_publish, name="release-publish"),
    path("releases/v<int:number>/rollback", releases.release_rollback, name="release-rollback"),
    path("certificates/<uuid:public_id>/", releases.certificate_page, name="certificate"),
    path(
        "certificates/<uuid:public_id>/certificate.json",
        releases.certificate_download,
        name="certificate-json",
    ),
]
