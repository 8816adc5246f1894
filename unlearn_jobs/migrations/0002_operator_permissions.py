"""The roles' rights on jobs and versions: ML operators see and operate jobs; release managers and
compliance officers see them."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

ROLE_PERMISSIONS = {
    "ml_operator": [
        "unlearn_jobs.view_unlearnjob",
        "unlearn_jobs.operate_unlearnjob",
        "unlearn_jobs.view_modelversion",
    ],
    "release_manager": ["unlearn_jobs.view_unlearnjob", "unlearn_jobs.view_modelversion"],
    "compliance_officer": ["unlearn_jobs.view_unlearnjob"],
}


def grant(apps, schema_editor):
    # Permissions are normally made after all migrations; make this app's now so we can assign them.
    app_config = apps.get_app_config("unlearn_jobs")
    app_config.models_module = True
    create_permissions(app_config, verbosity=0, apps=apps)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, codes in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        for code in codes:
            app_label, codename = code.split(".")
            group.permissions.add(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, codes in ROLE_PERMISSIONS.items():
        group = Group.objects.filter(name=role).first()
        if group is not None:
            for code in codes:
                app_label, codename = code.split(".")
                group.permissions.remove(
                    *Permission.objects.filter(content_type__app_label=app_label, codename=codename)
                )


class Migration(migrations.Migration):
    dependencies = [
        ("unlearn_jobs", "0001_initial"),
        ("requests_app", "0002_roles_and_audit_head"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
