#!/usr/bin/env bash
# Presence Heartbeat: this computer's startup and shutdown, run by the system unit
# presence-heartbeat-computer.service (as root):
#
#   presence-heartbeat-computer startup    when the unit starts (boot, once the network is online)
#   presence-heartbeat-computer shutdown   when it stops (shutdown or reboot, before the network goes)
#
# No user is known here: it sends the event and this host as `device`; the server hands it to the users
# whose own service (presence-heartbeat.service) last reported from this host. Each attempt gives up
# after 5 s and the run after PH_RETRY_SECONDS (15 s at shutdown, 30 s at startup), so that shutting down
# is never held up for long. Reports go to {{ url }} with `at` (UTC) and an idempotency id.
#
# The API key is read from a file only root can read and handed to curl on standard input (`curl -H @-`):
# it never appears in a command line, the environment or the journal. Never add `set -x`.
# Settings: PH_URL, PH_KEY_FILE, PH_DEVICE, PH_RETRY_SECONDS (`systemctl edit presence-heartbeat-computer`).
set -uo pipefail

DEFAULT_URL={{ url_sh }}
PH_URL="${PH_URL:-$DEFAULT_URL}"
PH_KEY_FILE="${PH_KEY_FILE:-/etc/presence-heartbeat/key}"
PH_DEVICE="${PH_DEVICE:-$(uname -n)}"
EX_USAGE=64
EX_CONFIG=78

API_KEY=""

log() {
  printf 'presence-heartbeat-computer: %s\n' "$*" >&2
}

read_key() {
  if [ ! -r "$PH_KEY_FILE" ]; then
    log "cannot read the API key file $PH_KEY_FILE"
    return 1
  fi
  IFS= read -r API_KEY <"$PH_KEY_FILE" || true
  API_KEY="${API_KEY//[[:space:]]/}"
  case "$API_KEY" in
    phk_*) return 0 ;;
  esac
  log "$PH_KEY_FILE holds no API key ({{ key_placeholder }}?): paste the key from the admin's integration page"
  return 1
}

# send EVENT BUDGET: post the device-only event; retry (1, 2, 4 s) for at most BUDGET seconds.
send() {
  local event=$1 budget=$2 delay=1 deadline id at answer code
  id="phc-$(date -u +%s)-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
  at=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  deadline=$((SECONDS + budget))
  while :; do
    answer=$(printf 'Authorization: Bearer %s\n' "$API_KEY" | curl -sS --max-time 5 -H @- \
      --data-urlencode "event=$event" --data-urlencode "at=$at" \
      --data-urlencode "device=$PH_DEVICE" --data-urlencode "id=$id" \
      -w '\n%{http_code}' "$PH_URL")
    code=${answer##*$'\n'}
    case "$code" in
      2??)
        log "$event sent for $PH_DEVICE"
        return 0
        ;;
      000 | 408 | 429 | 5??) ;;
      *)
        log "$event refused (HTTP $code): ${answer%$'\n'*}"
        return 1
        ;;
    esac
    if [ $((SECONDS + delay + 5)) -gt "$deadline" ]; then
      log "$event not sent: gave up after ${budget} s (last HTTP status $code)"
      return 1
    fi
    sleep "$delay"
    delay=$((delay * 2 > 4 ? 4 : delay * 2))
  done
}

main() {
  local event=${1:-} budget
  case "$event" in
    startup) budget=30 ;;
    shutdown) budget=15 ;;
    *)
      log "usage: $0 startup | shutdown"
      exit "$EX_USAGE"
      ;;
  esac
  read_key || exit "$EX_CONFIG"
  if ! type -P curl >/dev/null; then
    log "curl is missing: install it (Debian/Ubuntu: curl)"
    exit "$EX_CONFIG"
  fi
  send "$event" "${PH_RETRY_SECONDS:-$budget}"
}

main "$@"
