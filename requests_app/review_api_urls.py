"""Review API, /api/v1/ (the review queue and decisions)."""

from django.urls import path

from requests_app import review_api

urlpatterns = [
    path("review-queue/", review_api.ReviewQueueApi.as_view(), name="api-review-queue"),
    path(
        "forget-requests/<uuid:id>/decision",
        review_api.DecisionApi.as_view(),
        name="api-forget-request-decision",
    ),
]
