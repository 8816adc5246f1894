"""Intake URLs: the public portal pages, and the public API mounted at /api/v1/."""

from django.urls import path

from requests_app.intake import api, views

app_name = "requests_app"

urlpatterns = [
    path("", views.home, name="home"),
    path("forget/", views.forget_form, name="forget"),
    path("forget/<uuid:public_id>/confirm/", views.confirm, name="confirm"),
    path("forget/<uuid:public_id>/confirm/new-code/", views.resend_code, name="resend-code"),
    path("forget/status/<uuid:public_id>/", views.status, name="status"),
    path("forget/status/<uuid:public_id>/withdraw/", views.withdraw, name="withdraw"),
    path("forget/status/<uuid:public_id>/reply/", views.reply, name="reply"),
    path("forget/status/<uuid:public_id>/revoke-links/", views.revoke_links, name="revoke-links"),
    path("forget/status/<uuid:public_id>/new-link/", views.new_link, name="new-link"),
]

api_urlpatterns = [
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
