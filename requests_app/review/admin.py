"""Admin of the review records (read only)."""

from django.contrib import admin

from palimpsest.admin import ReadOnlyAdmin
from requests_app.review.models import ApprovalVote, ApprovedItem, ReviewDecision


@admin.register(ReviewDecision)
class ReviewDecisionAdmin(ReadOnlyAdmin):
    list_display = ("request", "kind", "officer", "exception", "created_at")
    list_filter = ("kind", "exception")


@admin.register(ApprovalVote)
class ApprovalVoteAdmin(ReadOnlyAdmin):
    list_display = ("request", "officer", "created_at", "withdrawn_at")


@admin.register(ApprovedItem)
class ApprovedItemAdmin(ReadOnlyAdmin):
    list_display = ("request", "item", "in_coreset", "sha256", "approved_at")
    list_filter = ("in_coreset",)
