#!/bin/sh
# Presence Heartbeat: everything a restore needs, in one new directory under the one given
# (docs/deployment.md, "Backup and restore"; tests/production runs it and restores the result):
#   database.dump  the database (pg_dump, custom format; consistent while the service runs)
#   conf.tar       /etc/presence-heartbeat: the settings and the secrets. Without the API keys' pepper
#                  (api_key_pepper) every API key must be issued again; keep it with the dump.
#   state.tar      /var/lib/presence-heartbeat, except static/ (collectstatic makes it again)
#   manifest       where they came from and the code's version (restore the same version, then upgrade)
# Run as root, e.g. daily from a systemd timer or cron:  sudo deploy/backup.sh /var/backups/presence-heartbeat
# The backup holds secrets: it is made with mode 0700/0600; keep it as safe as /etc/presence-heartbeat.
set -eu

APP_DIR=${APP_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
CONF_DIR=${CONF_DIR:-/etc/presence-heartbeat}
STATE_DIR=${STATE_DIR:-/var/lib/presence-heartbeat}
DB_NAME=${DB_NAME:-heartbeat}

target=${1:?usage: deploy/backup.sh DIRECTORY}
backup="$target/presence-heartbeat-$(date -u +%Y%m%dT%H%M%SZ)"
umask 077
mkdir -p "$backup"

if [ "$(id -u)" = 0 ]; then
  runuser -u postgres -- pg_dump --format=custom "$DB_NAME" >"$backup/database.dump"
else
  pg_dump --format=custom "$DB_NAME" >"$backup/database.dump"
fi
tar -C "$CONF_DIR" -cf "$backup/conf.tar" .
tar -C "$STATE_DIR" --exclude=./static -cf "$backup/state.tar" .
{
  echo "CONF_DIR=$CONF_DIR"
  echo "STATE_DIR=$STATE_DIR"
  echo "DB_NAME=$DB_NAME"
  echo "VERSION=$(git -C "$APP_DIR" describe --always --dirty 2>/dev/null || echo unknown)"
} >"$backup/manifest"
echo "$backup"
