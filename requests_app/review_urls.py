"""Staff review pages (the review queue)."""

urlpatterns: list = []
