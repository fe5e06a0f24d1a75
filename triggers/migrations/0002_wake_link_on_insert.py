"""On PostgreSQL, committing a queued trigger wakes the link worker: NOTIFY from the database itself.

The notification is part of the INSERT's transaction, so it is delivered exactly when the row is
committed and never when it rolls back — no code in the request path sends anything
(presence/link/wakeups.py explains the other databases).
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION heartbeat_wake_link() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('heartbeat_link', '');
    RETURN NULL;
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER heartbeat_wake_link AFTER INSERT ON triggers_trigger
    FOR EACH ROW WHEN (NEW.status = 'queued') EXECUTE FUNCTION heartbeat_wake_link();
"""
DROP = """
DROP TRIGGER IF EXISTS heartbeat_wake_link ON triggers_trigger;
DROP FUNCTION IF EXISTS heartbeat_wake_link();
"""


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("triggers", "0001_initial")]

    operations = [migrations.RunPython(create, drop)]
