"""Jobs URLs: the staff pages at /jobs/ and the API at /api/v1/."""

from django.urls import path

from unlearn_jobs.jobs import api, views

app_name = "jobs"

urlpatterns = [
    path("", views.job_list, name="list"),
    path("rows/", views.job_rows, name="rows"),
    path("batch/", views.batch_now, name="batch"),
    path("<int:job_id>/", views.job_detail, name="detail"),
    path("<int:job_id>/live/", views.job_live, name="live"),
    path("<int:job_id>/cancel/", views.job_cancel, name="cancel"),
]

api_urlpatterns = [
    path("jobs/", api.JobListApi.as_view(), name="api-jobs"),
    path("jobs/<int:id>", api.JobDetailApi.as_view(), name="api-job"),
    path("jobs/<int:id>/cancel", api.JobCancelApi.as_view(), name="api-job-cancel"),
]
