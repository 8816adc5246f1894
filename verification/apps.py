from django.apps import AppConfig


class VerificationConfig(AppConfig):
    name = "verification"
    verbose_name = "Verification and release"

    def ready(self) -> None:
        # Listen to the unlearning stage (it never imports this app).
        from verification.gate import receivers

        receivers.connect()
