"""Create the staff roles as groups with permissions, and the audit chain's head row."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GENESIS_HASH = "0" * 64

ROLES = {
    "compliance_officer": [
        "requests_app.view_forgetrequest",
        "requests_app.decide_forgetrequest",
        "requests_app.extend_forgetrequest",
        "requests_app.view_forgetitem",
        "requests_app.view_auditevent",
    ],
    "release_manager": [
        "requests_app.view_forgetrequest",
        "requests_app.view_auditevent",
    ],
    "ml_operator": [
        "requests_app.view_forgetrequest",
        "requests_app.view_auditevent",
    ],
}


def create_roles(apps, schema_editor):
    # Permissions are normally made after all migrations; make this app's now so we can assign them.
    app_config = apps.get_app_config("requests_app")
    app_config.models_module = True
    create_permissions(app_config, verbosity=0, apps=apps)
    app_config.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, codes in ROLES.items():
        group, _ = Group.objects.get_or_create(name=role)
        for code in codes:
            app_label, codename = code.split(".")
            group.permissions.add(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )

    AuditChainHead = apps.get_model("requests_app", "AuditChainHead")
    AuditChainHead.objects.get_or_create(pk=1, defaults={"seq": 0, "hash": GENESIS_HASH})


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=list(ROLES)).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("requests_app", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
