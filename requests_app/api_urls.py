"""Versioned public API (/api/v1/)."""

from django.urls import path

from requests_app import api

urlpatterns = [
    path("forget-requests/", api.ForgetRequestCreateApi.as_view(), name="api-forget-request-create"),
    path("forget-requests/<uuid:id>", api.ForgetRequestDetailApi.as_view(), name="api-forget-request-detail"),
    path(
        "forget-requests/<uuid:id>/verify",
        api.ForgetRequestVerifyApi.as_view(),
        name="api-forget-request-verify",
    ),
    path(
        "forget-requests/<uuid:id>/cancel",
        api.ForgetRequestCancelApi.as_view(),
        name="api-forget-request-cancel",
    ),
]
