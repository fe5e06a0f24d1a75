#!/bin/bash
# Presence Heartbeat for macOS, run by the LaunchAgent com.presence-heartbeat.agent (bash 3.2 compatible).
#
#   presence-heartbeat.sh run     the agent: reports logon at start, then polls the screen lock every
#                                 PH_POLL_SECONDS (IOConsoleUsers' CGSSessionScreenIsLocked, or this user
#                                 switched away from the console) and reports lock/unlock when it changes,
#                                 a heartbeat every PH_HEARTBEAT_SECONDS, resume (and a heartbeat) when its
#                                 loop overslept because the Mac was asleep and sleepwatcher did not report
#                                 the wake, and logoff when launchd stops it at logout (SIGTERM)
#   presence-heartbeat.sh sleep   reports sleep before the Mac sleeps (sleepwatcher -s; sleep goes ahead
#                                 after 15 s, so this gives up after 10 s)
#   presence-heartbeat.sh wake    reports resume after the Mac woke (sleepwatcher -w), or lock if it woke
#                                 to a locked screen
#   presence-heartbeat.sh send EVENT   reports one event
#
# Reports go to {{ url }} with the user, this Mac as `device`, the time it happened (`at`, UTC) and an
# idempotency id, retried with backoff for at most PH_RETRY_SECONDS.
# The API key is read from a file only its owner can read and handed to curl on standard input
# (`curl -H @-`): it never appears in a command line, the environment or the log. Never add `set -x`.
set -u

DEFAULT_URL={{ url_sh }}
PH_URL="${PH_URL:-$DEFAULT_URL}"
PH_DIR="${PH_DIR:-$HOME/Library/Application Support/PresenceHeartbeat}"
PH_KEY_FILE="${PH_KEY_FILE:-$PH_DIR/key}"
PH_LOGIN="${PH_LOGIN:-$(id -un)}"
PH_USER="${PH_USER:-$PH_LOGIN}"
PH_DEVICE="${PH_DEVICE:-$(scutil --get ComputerName 2>/dev/null || hostname -s)}"
PH_HEARTBEAT_SECONDS="${PH_HEARTBEAT_SECONDS:-{{ heartbeat_seconds }}}"
PH_RETRY_SECONDS="${PH_RETRY_SECONDS:-{{ retry_seconds }}}"
PH_POLL_SECONDS="${PH_POLL_SECONDS:-5}"
STATE_FILE="$PH_DIR/last-sent" # the last lock/unlock reported, shared with the sleep command
POWER_FILE="$PH_DIR/last-power" # "sleep EPOCH" or "resume EPOCH": one resume per wake, whoever notices it
EX_CONFIG=78

API_KEY=""

log() {
  printf '%s presence-heartbeat: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2
}

now_utc() {
  date -u +%Y-%m-%dT%H:%M:%SZ
}

read_key() {
  if [ ! -r "$PH_KEY_FILE" ]; then
    log "cannot read the API key file $PH_KEY_FILE"
    return 1
  fi
  chmod 600 "$PH_KEY_FILE" 2>/dev/null || true # readable by its owner only
  IFS= read -r API_KEY <"$PH_KEY_FILE" || true
  API_KEY="${API_KEY//[[:space:]]/}"
  case "$API_KEY" in
    phk_*) return 0 ;;
  esac
  log "$PH_KEY_FILE holds no API key ({{ key_placeholder }}?): paste the key from the admin's integration page"
  return 1
}

# send EVENT AT BUDGET: post one trigger; retry with backoff (2, 4, 8 … 30 s) for at most BUDGET seconds.
send() {
  local event=$1 at=$2 budget=$3 delay=2 deadline id answer code
  id="ph-$(date -u +%s)-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
  deadline=$((SECONDS + budget))
  while :; do
    answer=$(printf 'Authorization: Bearer %s\n' "$API_KEY" | curl -sS --max-time 10 -H @- \
      --data-urlencode "user=$PH_USER" --data-urlencode "event=$event" --data-urlencode "at=$at" \
      --data-urlencode "device=$PH_DEVICE" --data-urlencode "id=$id" \
      -w '\n%{http_code}' "$PH_URL")
    code=${answer##*$'\n'}
    case "$code" in
      2??)
        log "$event sent"
        case "$event" in
          lock | unlock) printf '%s\n' "$event" >"$STATE_FILE" ;;
        esac
        return 0
        ;;
      000 | 408 | 429 | 5??) ;;
      *)
        log "$event refused (HTTP $code): ${answer%$'\n'*}"
        return 1
        ;;
    esac
    if [ $((SECONDS + delay)) -gt "$deadline" ]; then
      log "$event not sent: gave up after ${budget} s (last HTTP status $code)"
      return 1
    fi
    sleep "$delay"
    delay=$((delay * 2 > 30 ? 30 : delay * 2))
  done
}

# lock or unlock, from this user's entry in IOConsoleUsers (`ioreg -n Root -d1`); nothing when unknown.
screen_state() {
  local users entry
  users=$(ioreg -n Root -d1 2>/dev/null | grep '"IOConsoleUsers"') || return 1
  entry=$(printf '%s\n' "$users" | tr '}' '\n' | grep "\"kCGSSessionUserNameKey\"=\"$PH_LOGIN\"" | head -n 1)
  [ -n "$entry" ] || return 1
  case "$entry" in
    *'"CGSSessionScreenIsLocked"=Yes'* | *'"kCGSSessionOnConsoleKey"=No'*) echo lock ;;
    *) echo unlock ;;
  esac
}

last_sent() {
  cat "$STATE_FILE" 2>/dev/null || true
}

# resumed_since EPOCH: a resume was reported at or after EPOCH (by sleepwatcher's wake or the agent).
resumed_since() {
  local what when
  read -r what when <"$POWER_FILE" 2>/dev/null || return 1
  [ "$what" = resume ] && [ "${when:-0}" -ge "$1" ]
}

# After waking: resume when the screen is unlocked; lock when it is still locked (the unlock that
# follows then puts back what the user had before the Mac slept).
report_wake() {
  if [ "$(screen_state)" = lock ]; then
    send lock "$(now_utc)" "$PH_RETRY_SECONDS"
  else
    send resume "$(now_utc)" "$PH_RETRY_SECONDS" && printf 'unlock\n' >"$STATE_FILE"
  fi
  printf 'resume %s\n' "$(date +%s)" >"$POWER_FILE"
}

on_stop() {
  trap '' TERM INT HUP
  [ -z "${NAP_PID:-}" ] || kill "$NAP_PID" 2>/dev/null
  send logoff "$(now_utc)" 10
  exit 0
}

run() {
  local state now last_beat last_tick
  trap on_stop TERM INT HUP
  log "reporting for $PH_USER on $PH_DEVICE to $PH_URL"
  # The screen as it is at logon counts as reported: a change from here on is sent.
  state=$(screen_state) || state=""
  printf '%s\n' "$state" >"$STATE_FILE"
  send logon "$(now_utc)" "$PH_RETRY_SECONDS"
  last_beat=$(date +%s)
  last_tick=$last_beat
  while :; do
    state=$(screen_state) || state=""
    if [ -n "$state" ] && [ "$state" != "$(last_sent)" ]; then
      send "$state" "$(now_utc)" "$PH_RETRY_SECONDS"
    fi
    now=$(date +%s)
    # A loop that overslept by a minute means the Mac was asleep: say that it is back (unless
    # sleepwatcher's wake command already did), and beat at once.
    if [ $((now - last_tick)) -gt $((PH_POLL_SECONDS + 60)) ]; then
      resumed_since "$last_tick" || report_wake
      last_beat=0
    fi
    if [ "$PH_HEARTBEAT_SECONDS" -gt 0 ] && [ $((now - last_beat)) -ge "$PH_HEARTBEAT_SECONDS" ]; then
      send heartbeat "$(now_utc)" "$PH_RETRY_SECONDS"
      last_beat=$(date +%s)
    fi
    last_tick=$(date +%s)
    # In the background, so that SIGTERM at logout is handled at once, not after the nap.
    sleep "$PH_POLL_SECONDS" &
    NAP_PID=$!
    wait "$NAP_PID"
  done
}

main() {
  mkdir -p "$PH_DIR"
  read_key || exit "$EX_CONFIG"
  case "${1:-}" in
    run) run ;;
    sleep)
      send sleep "$(now_utc)" 10
      printf 'sleep %s\n' "$(date +%s)" >"$POWER_FILE"
      printf 'lock\n' >"$STATE_FILE" # asleep stands for locked: a lock seen at sleep adds nothing
      ;;
    wake)
      # The agent's loop may have noticed the wake first.
      resumed_since $(($(date +%s) - 60)) || report_wake
      ;;
    send)
      [ -n "${2:-}" ] || {
        log "usage: $0 send EVENT"
        exit 64
      }
      send "$2" "$(now_utc)" "$PH_RETRY_SECONDS"
      ;;
    *)
      log "usage: $0 run | sleep | wake | send EVENT"
      exit 64
      ;;
  esac
}

main "$@"
