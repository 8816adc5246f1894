"""URL map: the public portal, staff pages, the admin and the versioned API."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from palimpsest import views
from requests_app.intake import urls as intake_urls
from requests_app.review import urls as review_urls
from requests_app.staff import views as staff_views
from unlearn_jobs.jobs import urls as jobs_urls
from verification.generation import urls as generation_urls

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/login/", staff_views.StaffLoginView.as_view(), name="login"),
    path("accounts/totp/", staff_views.totp_enrol, name="totp-enrol"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("healthz", views.healthz, name="healthz"),
    path("api/v1/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves its script as a file, so the docs page needs no inline script (CSP).
    path("api/v1/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/v1/", include(intake_urls.api_urlpatterns)),
    path("api/v1/", include(review_urls.api_urlpatterns)),
    path("api/v1/", include(jobs_urls.api_urlpatterns)),
    path("api/v1/", include(generation_urls.api_urlpatterns)),
    path("review/", include("requests_app.review.urls")),
    path("jobs/", include("unlearn_jobs.jobs.urls")),
    path("", include("requests_app.intake.urls")),
    path("", include("unlearn_jobs.urls")),
    path("", include("verification.urls")),
]

handler400 = views.bad_request
handler403 = views.permission_denied
handler404 = views.page_not_found
handler500 = views.server_error
