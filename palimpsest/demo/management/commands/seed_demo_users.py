"""Create the demo's staff accounts (embedded mode only): one per role, with a known password."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError

DEMO_PASSWORD = "palimpsest-demo"
DEMO_USERS = {
    "officer": ["compliance_officer"],
    "officer2": ["compliance_officer"],
    "release": ["release_manager"],
    "operator": ["ml_operator"],
}


class Command(BaseCommand):
    help = "Create demo staff users (refused when DEBUG is off)."

    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError("Demo users with a known password are for the embedded demo only (DEBUG on).")
        User = get_user_model()
        for username, roles in DEMO_USERS.items():
            user, created = User.objects.get_or_create(username=username, defaults={"is_staff": False})
            if created:
                user.set_password(DEMO_PASSWORD)
            # Officers need an address: it is how their own requests are recognised and refused to them.
            user.email = user.email or f"{username}@palimpsest.invalid"
            user.save(update_fields=["password", "email"])
            user.groups.set(Group.objects.filter(name__in=roles))
        if not User.objects.filter(username="admin").exists():
            User.objects.create_superuser("admin", "admin@palimpsest.invalid", DEMO_PASSWORD)
        self.stdout.write(self.style.SUCCESS(f"Demo users ready: {', '.join([*DEMO_USERS, 'admin'])}."))
