from django.apps import AppConfig


class RequestsAppConfig(AppConfig):
    name = "requests_app"
    verbose_name = "Forget requests"

    def ready(self) -> None:
        # Load the Celery app with Django, so that shared tasks bind to it (not in palimpsest/__init__,
        # which the Django-free ML packages import).
        import palimpsest.celery  # noqa: F401
