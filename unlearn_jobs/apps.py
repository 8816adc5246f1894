from django.apps import AppConfig


class UnlearnJobsConfig(AppConfig):
    name = "unlearn_jobs"
    verbose_name = "Unlearning jobs"
