"""Make an API token for an integration acting as a staff user; the key is printed once, kept hashed."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from requests_app.staff import services


class Command(BaseCommand):
    help = "Create an API token (Authorization: Token <key>) for a staff user's integration."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", required=True, help="What will use it, e.g. 'case system'.")

    def handle(self, *args, username, name, **options):
        user = get_user_model().objects.filter(username=username, is_active=True).first()
        if user is None:
            raise CommandError(f"No active user {username!r}.")
        key = services.api_token_create(user=user, name=name)
        self.stdout.write(key)
