"""Public portal URLs."""

from django.urls import path

from requests_app import views

app_name = "requests_app"

urlpatterns = [
    path("", views.home, name="home"),
    path("forget/", views.forget_form, name="forget"),
    path("forget/<uuid:public_id>/confirm/", views.confirm, name="confirm"),
    path("forget/<uuid:public_id>/confirm/new-code/", views.resend_code, name="resend-code"),
    path("forget/status/<uuid:public_id>/", views.status, name="status"),
    path("forget/status/<uuid:public_id>/withdraw/", views.withdraw, name="withdraw"),
    path("forget/status/<uuid:public_id>/reply/", views.reply, name="reply"),
]
