"""Staff review pages (the review queue), mounted at /review/."""

from django.urls import path

from requests_app import review_views

app_name = "review"

urlpatterns = [
    path("", review_views.queue, name="queue"),
    path("bulk/", review_views.bulk, name="bulk"),
    path("<uuid:public_id>/", review_views.detail, name="detail"),
    path("<uuid:public_id>/approve/", review_views.approve, name="approve"),
    path("<uuid:public_id>/reject/", review_views.reject, name="reject"),
    path("<uuid:public_id>/needs-info/", review_views.needs_info, name="needs_info"),
    path("<uuid:public_id>/extend/", review_views.extend, name="extend"),
    path("<uuid:public_id>/items/<int:item_id>/", review_views.item_decide, name="item"),
    path("<uuid:public_id>/items/<int:item_id>/proposal/", review_views.proposal_decide, name="proposal"),
]
