#!/bin/sh
# Presence Heartbeat: restore a backup made by deploy/backup.sh (docs/deployment.md, "Backup and restore").
# On a machine prepared by `deploy/install.sh packages account code` (or the same one, units stopped):
#
#   sudo deploy/restore.sh /var/backups/presence-heartbeat/presence-heartbeat-20261129T020000Z
#   sudo SERVER_NAME=presence.corp.example deploy/install.sh migrate units nginx start
#
# It restores the settings and secrets into CONF_DIR, the state into STATE_DIR, and the database into
# DB_NAME, which must not exist yet: drop the old one first (sudo -u postgres dropdb heartbeat), or
# restore into a new one (DB_NAME=heartbeat_restored) to check a backup beside the running service.
# The restored settings are pointed at the directories and database named here.
set -eu

APP_DIR=${APP_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
CONF_DIR=${CONF_DIR:-/etc/presence-heartbeat}
STATE_DIR=${STATE_DIR:-/var/lib/presence-heartbeat}
DB_NAME=${DB_NAME:-heartbeat}
DB_USER=${DB_USER:-heartbeat}
SERVICE_USER=${SERVICE_USER:-heartbeat}

backup=${1:?usage: deploy/restore.sh BACKUP_DIRECTORY}
for file in manifest database.dump conf.tar state.tar; do
  [ -r "$backup/$file" ] || { echo "$backup/$file is missing: not a backup made by deploy/backup.sh." >&2; exit 1; }
done

as_postgres() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

if [ "$(as_postgres psql -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'")" = 1 ]; then
  echo "Database $DB_NAME exists: drop it first (sudo -u postgres dropdb $DB_NAME) or set DB_NAME." >&2
  exit 1
fi

# Settings and secrets, with their owners and modes (conf.tar was made by root from CONF_DIR).
install -d -m 0750 "$CONF_DIR"
tar -C "$CONF_DIR" -xpf "$backup/conf.tar"
install -d -m 0755 "$STATE_DIR"
tar -C "$STATE_DIR" -xpf "$backup/state.tar"

# The restored settings name the directories and the database of this restore.
old_conf=$(sed -n 's/^CONF_DIR=//p' "$backup/manifest")
old_state=$(sed -n 's/^STATE_DIR=//p' "$backup/manifest")
sed -i -e "s|$old_conf/|$CONF_DIR/|g" -e "s|=$old_state\$|=$STATE_DIR|" -e "s|=$old_state/|=$STATE_DIR/|" \
  -e "s|^\(DATABASE_URL=.*/\)[^/]*\$|\1$DB_NAME|" "$CONF_DIR/heartbeat.env"

# The role (with the restored password) and an empty database, as install.sh makes them; then the dump.
CONF_DIR="$CONF_DIR" DB_NAME="$DB_NAME" DB_USER="$DB_USER" SERVICE_USER="$SERVICE_USER" \
  "$APP_DIR/deploy/install.sh" database
as_postgres pg_restore --no-owner --role="$DB_USER" --exit-on-error -d "$DB_NAME" <"$backup/database.dump"

echo "Restored $(sed -n 's/^VERSION=//p' "$backup/manifest") into $CONF_DIR, $STATE_DIR and database $DB_NAME."
echo "Next: deploy/install.sh migrate (and units nginx start on a new machine)."
