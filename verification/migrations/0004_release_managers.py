"""Who releases: release managers approve, refuse, publish and roll back; officers and operators follow."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GRANTS = {
    "release_manager": ("view_releasedecision", "release_modelversion", "view_erasurecertificate"),
    "compliance_officer": ("view_releasedecision",),
    "ml_operator": ("view_releasedecision",),
}


def grant(apps, schema_editor):
    app_config = apps.get_app_config("verification")
    app_config.models_module = True
    create_permissions(app_config, verbosity=0, apps=apps)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, codes in GRANTS.items():
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.add(
            *Permission.objects.filter(content_type__app_label="verification", codename__in=codes)
        )


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, codes in GRANTS.items():
        for group in Group.objects.filter(name=role):
            group.permissions.remove(
                *Permission.objects.filter(content_type__app_label="verification", codename__in=codes)
            )


class Migration(migrations.Migration):
    dependencies = [("verification", "0003_releases")]

    operations = [migrations.RunPython(grant, revoke)]
