"""URLs of verification (pages are added by the issues that build this stage)."""

urlpatterns: list = []
