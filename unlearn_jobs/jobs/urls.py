"""Jobs URLs: the API at /api/v1/ (the /jobs/ pages are added next to it by the pages' issue)."""

from django.urls import path

from unlearn_jobs.jobs import api

app_name = "jobs"

urlpatterns: list = []

api_urlpatterns = [
    path("jobs/", api.JobListApi.as_view(), name="api-jobs"),
    path("jobs/<int:id>", api.JobDetailApi.as_view(), name="api-job"),
    path("jobs/<int:id>/cancel", api.JobCancelApi.as_view(), name="api-job-cancel"),
]
