"""Review URLs: the staff review queue (mounted at /review/), and the review API at /api/v1/."""

from django.urls import path

from requests_app.review import api, views

app_name = "review"

urlpatterns = [
    path("", views.queue, name="queue"),
    path("bulk/", views.bulk, name="bulk"),
    path("<uuid:public_id>/", views.detail, name="detail"),
    path("<uuid:public_id>/approve/", views.approve, name="approve"),
    path("<uuid:public_id>/reject/", views.reject, name="reject"),
    path("<uuid:public_id>/needs-info/", views.needs_info, name="needs_info"),
    path("<uuid:public_id>/extend/", views.extend, name="extend"),
    path("<uuid:public_id>/items/<int:item_id>/", views.item_decide, name="item"),
    path("<uuid:public_id>/items/<int:item_id>/proposal/", views.proposal_decide, name="proposal"),
]

api_urlpatterns = [
    path("review-queue/", api.ReviewQueueApi.as_view(), name="api-review-queue"),
    path("forget-requests/<uuid:id>/decision", api.DecisionApi.as_view(), name="api-forget-request-decision"),
]
