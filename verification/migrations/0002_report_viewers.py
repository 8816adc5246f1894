"""Who reads verification reports: release managers decide on them, officers and operators follow them."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

VIEWERS = ("release_manager", "compliance_officer", "ml_operator")
CODES = ("view_verificationreport", "view_verificationpolicy")


def grant(apps, schema_editor):
    # Permissions are normally made after all migrations; make this app's now so we can assign them.
    app_config = apps.get_app_config("verification")
    app_config.models_module = True
    create_permissions(app_config, verbosity=0, apps=apps)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    permissions = Permission.objects.filter(content_type__app_label="verification", codename__in=CODES)
    for role in VIEWERS:
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.add(*permissions)


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    permissions = Permission.objects.filter(content_type__app_label="verification", codename__in=CODES)
    for group in Group.objects.filter(name__in=VIEWERS):
        group.permissions.remove(*permissions)


class Migration(migrations.Migration):
    dependencies = [
        ("verification", "0001_initial"),
        ("requests_app", "0002_roles_and_audit_head"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
