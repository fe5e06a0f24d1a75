#!/bin/sh
# Presence Heartbeat, the scaled set-up on one Debian 12 / Ubuntu 24.04 machine: nginx → gunicorn (API)
# and daphne (web) → PostgreSQL and Redis, and two PBX link workers, under systemd. docs/deployment.md
# quotes this file; tests/production runs it. Run it as root in the checkout:
#
#   git clone <repository> /opt/presence-heartbeat && cd /opt/presence-heartbeat
#   sudo SERVER_NAME=presence.corp.example PBX_URL=wss://pbx.corp.example/PBX0/APPS/websocket \
#        LICENSE_PUBLIC_KEY=<from your licence e-mail> deploy/install.sh     # every step, in order
#   sudo SERVER_NAME=presence.corp.example deploy/install.sh nginx          # only the steps named
#
# Every step can run again: secrets, the settings file, the role and the database are kept.
set -eu

STEPS="packages account code secrets settings database migrate admin units nginx start"

# What you may set in the environment (defaults after the dash):
SERVER_NAME=${SERVER_NAME:-}                 # the name computers and people use; the certificate's name
TLS_CERT=${TLS_CERT:-/etc/ssl/$SERVER_NAME/fullchain.pem}   # certificate followed by its intermediates
TLS_KEY=${TLS_KEY:-/etc/ssl/$SERVER_NAME/privkey.pem}
HTTPS_PORT=${HTTPS_PORT:-443}
HTTP_PORT=${HTTP_PORT:-80}                   # redirects to https
API_PORT=${API_PORT:-8001}                   # gunicorn on 127.0.0.1 (heartbeat-api)
WEB_PORTS=${WEB_PORTS:-8101 8102}            # daphne on 127.0.0.1, one per core (heartbeat-web@PORT)
WORKER_PORTS=${WORKER_PORTS:-9311 9312}      # PBX link workers' own metrics (heartbeat-worker@PORT)
METRICS_FROM=${METRICS_FROM:-}               # addresses besides this host that may read /metrics
PBX_URL=${PBX_URL:-}                         # else fill it in heartbeat.env
LICENSE_PUBLIC_KEY=${LICENSE_PUBLIC_KEY:-}   # else fill it in heartbeat.env
REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}
DB_NAME=${DB_NAME:-heartbeat}                # PostgreSQL on this machine (PGHOST/PGPORT as for psql)
DB_USER=${DB_USER:-heartbeat}
SERVICE_USER=${SERVICE_USER:-heartbeat}
APP_DIR=${APP_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
CONF_DIR=${CONF_DIR:-/etc/presence-heartbeat}
STATE_DIR=${STATE_DIR:-/var/lib/presence-heartbeat}
NGINX_DIR=${NGINX_DIR:-/etc/nginx}
SYSTEMD_ROOT=${SYSTEMD_ROOT:-}               # install the units into another root (systemctl --root)

ENV_FILE="$CONF_DIR/heartbeat.env"

is_root() { [ "$(id -u)" = 0 ]; }

need_server_name() {
  [ -n "$SERVER_NAME" ] || { echo "Set SERVER_NAME, e.g. SERVER_NAME=presence.corp.example $0" >&2; exit 2; }
}

# PostgreSQL's superuser over the local socket (peer authentication, Debian's default).
as_postgres() {
  if is_root; then runuser -u postgres -- "$@"; else "$@"; fi
}

# manage.py as the service user, with the settings the units read and nothing else from this shell.
manage() {
  set -- env -i PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8 HOME="$STATE_DIR" ENV_FILE="$ENV_FILE" \
    "$APP_DIR/.venv/bin/python" "$APP_DIR/manage.py" "$@"
  if is_root; then runuser -u "$SERVICE_USER" -- "$@"; else "$@"; fi
}

# A file from deploy/ with this machine's directories, service user and API port.
render() {
  sed -e "s|/opt/presence-heartbeat|$APP_DIR|g" \
    -e "s|/etc/presence-heartbeat|$CONF_DIR|g" \
    -e "s|/var/lib/presence-heartbeat|$STATE_DIR|g" \
    -e "s|^User=heartbeat\$|User=$SERVICE_USER|" -e "s|^Group=heartbeat\$|Group=$SERVICE_USER|" \
    -e "s|127.0.0.1:8001|127.0.0.1:$API_PORT|g" \
    "$APP_DIR/deploy/$1"
}

# NAME VALUE: set the line NAME=… in a settings file.
set_setting() {
  value=$(printf '%s' "$2" | sed 's/[\\|&]/\\&/g')
  sed -i "s|^$1=.*|$1=$value|" "$3"
}

step_packages() {
  apt-get install -y python3-venv postgresql redis-server nginx
}

step_account() {
  if is_root && ! id -u "$SERVICE_USER" >/dev/null 2>&1; then
    useradd --system --user-group --home-dir "$STATE_DIR" --no-create-home --shell /usr/sbin/nologin "$SERVICE_USER"
  fi
  # Mode 0755: nginx serves the static files from STATE_DIR/static.
  if is_root; then set -- -o "$SERVICE_USER" -g "$SERVICE_USER"; fi
  install -d -m 0755 "$@" "$STATE_DIR"
}

step_code() {
  [ -x "$APP_DIR/.venv/bin/python" ] || python3 -m venv "$APP_DIR/.venv"
  "$APP_DIR/.venv/bin/pip" install --quiet -r "$APP_DIR/requirements.txt"
}

# Secrets in files that only root and the service account can read (root:heartbeat, 0440).
step_secrets() {
  if is_root; then set -- -o root -g "$SERVICE_USER"; fi
  install -d -m 0750 "$@" "$CONF_DIR"
  for name in secret_key api_key_pepper database_password; do
    if [ ! -s "$CONF_DIR/$name" ]; then
      python3 -c 'import secrets; print(secrets.token_urlsafe(50))' | install -m 0440 "$@" /dev/stdin "$CONF_DIR/$name"
    fi
  done
  if [ ! -s "$CONF_DIR/pbx_password" ]; then
    echo "The App object's password (the PBX's Advanced UI, Objects; not shown while you type):"
    stty -echo 2>/dev/null || true
    read -r pbx_password || true
    stty echo 2>/dev/null || true
    [ -n "${pbx_password:-}" ] || { echo "No password given: nothing written." >&2; exit 1; }
    printf '%s' "$pbx_password" | install -m 0440 "$@" /dev/stdin "$CONF_DIR/pbx_password"
  fi
}

# heartbeat.env from deploy/production.env.example, created with its owner and mode (root:heartbeat 0640).
step_settings() {
  if [ ! -e "$ENV_FILE" ]; then
    need_server_name
    origin="https://$SERVER_NAME"
    [ "$HTTPS_PORT" = 443 ] || origin="$origin:$HTTPS_PORT"
    draft=$(mktemp)
    render production.env.example >"$draft"
    set_setting ALLOWED_HOSTS "$SERVER_NAME" "$draft"
    set_setting CSRF_TRUSTED_ORIGINS "$origin" "$draft"
    set_setting PUBLIC_URL "$origin" "$draft"
    set_setting DATABASE_URL "postgres://$DB_USER@127.0.0.1:${PGPORT:-5432}/$DB_NAME" "$draft"
    set_setting REDIS_URL "$REDIS_URL" "$draft"
    [ -z "$PBX_URL" ] || set_setting PBX_URL "$PBX_URL" "$draft"
    [ -z "$LICENSE_PUBLIC_KEY" ] || set_setting LICENSE_PUBLIC_KEY "$LICENSE_PUBLIC_KEY" "$draft"
    if is_root; then set -- -o root -g "$SERVICE_USER"; fi
    install -m 0640 "$@" "$draft" "$ENV_FILE"
    rm -f "$draft"
  fi
  if grep -n '^[A-Z_]*=.*<.*>' "$ENV_FILE"; then
    echo "Fill in the <…> values above in $ENV_FILE, then run $0 again." >&2
    exit 1
  fi
}

# A role with a password (Debian's pg_hba.conf asks for one over TCP: scram-sha-256) and its database.
step_database() {
  password=$(cat "$CONF_DIR/database_password")
  verb=CREATE
  [ "$(as_postgres psql -tAc "SELECT 1 FROM pg_roles WHERE rolname = '$DB_USER'")" != 1 ] || verb=ALTER
  # On stdin, never on a command line; PostgreSQL keeps only its scram-sha-256 hash.
  printf "%s ROLE \"%s\" LOGIN PASSWORD '%s';\n" "$verb" "$DB_USER" "$password" |
    as_postgres psql -q -v ON_ERROR_STOP=1
  if [ "$(as_postgres psql -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'")" != 1 ]; then
    as_postgres createdb -O "$DB_USER" "$DB_NAME"
  fi
}

step_migrate() {
  manage migrate --noinput
  manage collectstatic --noinput
  manage check --deploy --fail-level WARNING
}

step_admin() {
  manage ensureadmin # prints the first admin's password once: note it
  manage license show # the instance id to order the licence key for
}

# The units, enabled: the target too, so that multi-user.target starts everything at boot.
step_units() {
  unit_dir="$SYSTEMD_ROOT/etc/systemd/system"
  install -d "$unit_dir"
  for unit in heartbeat-api.service heartbeat-web@.service heartbeat-worker@.service presence-heartbeat.target; do
    render "$unit" >"$unit_dir/$unit"
    chmod 0644 "$unit_dir/$unit"
  done
  set -- presence-heartbeat.target heartbeat-api.service
  for port in $WEB_PORTS; do set -- "$@" "heartbeat-web@$port.service"; done
  for port in $WORKER_PORTS; do set -- "$@" "heartbeat-worker@$port.service"; done
  if [ -n "$SYSTEMD_ROOT" ]; then set -- --root="$SYSTEMD_ROOT" "$@"; fi
  systemctl enable "$@"
}

step_nginx() {
  need_server_name
  for file in "$TLS_CERT" "$TLS_KEY"; do
    [ -r "$file" ] || { echo "$file is missing: put the certificate and its key there first." >&2; exit 1; }
  done
  ipv6=0
  [ ! -e /proc/net/if_inet6 ] || ipv6=1
  install -d "$NGINX_DIR/sites-available" "$NGINX_DIR/sites-enabled" "$NGINX_DIR/snippets"
  render heartbeat-proxy.conf >"$NGINX_DIR/snippets/heartbeat-proxy.conf"
  render nginx.conf | awk -v name="$SERVER_NAME" -v cert="$TLS_CERT" -v key="$TLS_KEY" -v ipv6="$ipv6" \
    -v https="$HTTPS_PORT" -v http="$HTTP_PORT" -v web="$WEB_PORTS" -v metrics="$METRICS_FROM" '
    /listen \[::\]/ && !ipv6 { next }
    /# daphne \(heartbeat-web@/ {
      if (!done) {
        n = split(web, ports, " ")
        for (i = 1; i <= n; i++) printf "    server 127.0.0.1:%s;          # daphne (heartbeat-web@%s)\n", ports[i], ports[i]
        done = 1
      }
      next
    }
    /^ *ssl_certificate / { print "    ssl_certificate     " cert ";"; next }
    /^ *ssl_certificate_key / { print "    ssl_certificate_key " key ";"; next }
    /^ *allow ::1;/ {
      print
      n = split(metrics, from, " ")
      for (i = 1; i <= n; i++) print "        allow " from[i] ";"
      next
    }
    {
      sub(/listen 443 /, "listen " https " "); sub(/:443 /, ":" https " ")
      sub(/listen 80;/, "listen " http ";"); sub(/:80;/, ":" http ";")
      if (https != 443) sub(/https:\/\/\$host/, "https://$host:" https)
      gsub(/presence\.example\.com/, name)
      print
    }' >"$NGINX_DIR/sites-available/presence-heartbeat"
  ln -sfn ../sites-available/presence-heartbeat "$NGINX_DIR/sites-enabled/presence-heartbeat"
  nginx -t -c "$NGINX_DIR/nginx.conf"
}

step_start() {
  if [ -d /run/systemd/system ] && [ -z "$SYSTEMD_ROOT" ]; then
    systemctl daemon-reload
    systemctl restart presence-heartbeat.target
    systemctl reload-or-restart nginx
  else
    echo "systemd is not running here: start the units' ExecStart commands yourself (docs/deployment.md)."
  fi
}

if [ $# -eq 0 ]; then
  # shellcheck disable=SC2086 # one word per step
  set -- $STEPS
fi
for step in "$@"; do
  case " $STEPS " in
  *" $step "*) ;;
  *)
    echo "Unknown step '$step'. Steps: $STEPS" >&2
    exit 2
    ;;
  esac
done
cd "$APP_DIR"
for step in "$@"; do
  printf '\n== %s\n' "$step"
  "step_$step"
done
