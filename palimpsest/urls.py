"""URL map: the public portal, staff pages, the admin and the versioned API."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from palimpsest import views
from requests_app.intake import urls as intake_urls
from requests_app.review import urls as review_urls
from unlearn_jobs.jobs import urls as jobs_urls
from verification.generation import urls as generation_urls

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("healthz", views.healthz, name="healthz"),
    path("api/v1/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/v1/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/v1/", include(intake_urls.api_urlpatterns)),
    path("api/v1/", include(review_urls.api_urlpatterns)),
    path("api/v1/", include(jobs_urls.api_urlpatterns)),
    path("api/v1/", include(generation_urls.api_urlpatterns)),
    path("review/", include("requests_app.review.urls")),
    path("", include("requests_app.intake.urls")),
    path("", include("unlearn_jobs.urls")),
    path("", include("verification.urls")),
]
