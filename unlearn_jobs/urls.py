"""URLs of unlearn_jobs (pages are added by the issues that build this stage)."""

urlpatterns: list = []
