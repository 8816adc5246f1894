"""Review API, /api/v1/ (the review queue)."""

urlpatterns: list = []
