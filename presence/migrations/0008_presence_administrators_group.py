"""The "Presence administrators" group that the myApps admin app puts its accounts in.

Its permissions: presets, event rules, override rules, API keys, the licence and the licence
switches (seats), and viewing PBX users (the switches are in that list). A frozen copy of
presence/myapps/accounts.py's GROUP_PERMISSIONS, as a migration must not import code that changes.
"""

from django.db import migrations

GROUP_NAME = "Presence administrators"
PERMISSIONS = [
    ("presence", "add_preset"),
    ("presence", "change_preset"),
    ("presence", "delete_preset"),
    ("presence", "view_preset"),
    ("presence", "add_eventrule"),
    ("presence", "change_eventrule"),
    ("presence", "delete_eventrule"),
    ("presence", "view_eventrule"),
    ("presence", "add_overriderule"),
    ("presence", "change_overriderule"),
    ("presence", "delete_overriderule"),
    ("presence", "view_overriderule"),
    ("presence", "view_pbxuser"),
    ("triggers", "add_apikey"),
    ("triggers", "change_apikey"),
    ("triggers", "delete_apikey"),
    ("triggers", "view_apikey"),
    ("licensing", "view_licence"),
    ("licensing", "activate_licence"),
    ("licensing", "view_seat"),
    ("licensing", "change_seat"),
]


def create_group(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    # Django creates permissions after the last migration (post_migrate); on a new database they do
    # not exist yet at this point, so create them now (create_permissions skips those that exist).
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=GROUP_NAME)
    group.permissions.set(
        [Permission.objects.get(content_type__app_label=app, codename=codename) for app, codename in PERMISSIONS]
    )


def remove_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name=GROUP_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("presence", "0007_heartbeat_timeout_at_most_a_day"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("licensing", "0003_installation_revision"),
        ("triggers", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_group, remove_group)]
