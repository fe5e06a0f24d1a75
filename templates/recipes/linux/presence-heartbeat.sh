#!/usr/bin/env bash
# Presence Heartbeat for Linux desktops, run as the systemd user service presence-heartbeat.service.
#
# Reports to {{ url }}:
#   logon      when the service starts with the graphical session
#   lock       when logind's LockedHint of this session turns true, or a screensaver says ActiveChanged(true)
#   unlock     when either turns false again
#   sleep      before the machine sleeps (logind PrepareForSleep(true), held back by a delay inhibitor)
#   resume     after waking when the screen is not locked; lock when it is (the unlock that follows
#              then puts back what the user had before the machine slept)
#   heartbeat  every PH_HEARTBEAT_SECONDS while the session runs
#   logoff     when the service is stopped, i.e. the session ends
# Every trigger carries the user, this host as `device`, the time it happened (`at`, UTC) and an
# idempotency id, and is retried with backoff for at most PH_RETRY_SECONDS.
#
# The API key is read from a file only its owner can read and handed to curl on standard input
# (`curl -H @-`): it never appears in a command line, the environment or the log. Never add `set -x`.
#
# Settings (override with `systemctl --user edit presence-heartbeat`, Environment=...):
#   PH_URL, PH_KEY_FILE, PH_USER, PH_DEVICE, PH_HEARTBEAT_SECONDS (0 = off), PH_RETRY_SECONDS,
#   PH_SESSION_PATH   logind session object to watch (found through loginctl when empty),
#   PH_LOGIND_SENDER  bus name whose logind signals are trusted (empty = any sender).
# The D-Bus tools honour DBUS_SYSTEM_BUS_ADDRESS and DBUS_SESSION_BUS_ADDRESS as usual.
set -uo pipefail

DEFAULT_URL={{ url_sh }}
PH_URL="${PH_URL:-$DEFAULT_URL}"
PH_KEY_FILE="${PH_KEY_FILE:-${XDG_CONFIG_HOME:-$HOME/.config}/presence-heartbeat/key}"
PH_USER="${PH_USER:-${USER:-$(id -un)}}"
PH_DEVICE="${PH_DEVICE:-$(uname -n)}"
PH_HEARTBEAT_SECONDS="${PH_HEARTBEAT_SECONDS:-{{ heartbeat_seconds }}}"
PH_RETRY_SECONDS="${PH_RETRY_SECONDS:-{{ retry_seconds }}}"
PH_SESSION_PATH="${PH_SESSION_PATH:-}"
PH_LOGIND_SENDER="${PH_LOGIND_SENDER-org.freedesktop.login1}"
# logind waits at most InhibitDelayMaxSec (default 5 s) for a delay inhibitor before sleeping.
SLEEP_BUDGET_SECONDS=4
EX_CONFIG=78  # systemd does not restart on this status (RestartPreventExitStatus=78)

API_KEY=""
SESSION_PATH=""
LOCKED=""    # what the session's screen is, as last seen: lock, unlock or "" (unknown)
LAST_SENT="" # the last lock/unlock sent, so that logind and the screensaver do not both report one lock
POWER=""     # sleep or awake, as last reported: one sleep (and one wake) per suspend
INHIBIT_FD=""

log() {
  printf 'presence-heartbeat: %s\n' "$*" >&2
}

now_utc() {
  date -u +%Y-%m-%dT%H:%M:%SZ
}

emit() {
  printf '%s %s\n' "$1" "$(now_utc)"
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

# dbus-monitor's output → lines "lock|unlock|sleep|wake AT".
parse_monitor() {
  local line member="" prop=""
  while IFS= read -r line; do
    case "$line" in
      "signal "*)
        member=${line##*member=}
        prop=""
        continue
        ;;
      "method "* | "error "*)
        member=""
        continue
        ;;
    esac
    case "$member" in
      PropertiesChanged)
        # a{sv} of changed properties: `string "LockedHint"` then `variant boolean true`.
        case "$line" in
          *'string "LockedHint"'*) prop=LockedHint ;;
          *'string "'*) prop="" ;;
          *"boolean true"*) if [ "$prop" = LockedHint ]; then emit lock; fi ;;
          *"boolean false"*) if [ "$prop" = LockedHint ]; then emit unlock; fi ;;
        esac
        ;;
      ActiveChanged | PrepareForSleep)
        case "$line" in
          *"boolean true"*)
            if [ "$member" = ActiveChanged ]; then emit lock; else emit sleep; fi
            member=""
            ;;
          *"boolean false"*)
            if [ "$member" = ActiveChanged ]; then emit unlock; else emit wake; fi
            member=""
            ;;
        esac
        ;;
    esac
  done
}

watch_system() {
  local sender="" rules=()
  if [ -n "$PH_LOGIND_SENDER" ]; then
    sender=",sender='$PH_LOGIND_SENDER'"
  fi
  rules+=("type='signal',interface='org.freedesktop.login1.Manager',member='PrepareForSleep'$sender")
  if [ -n "$SESSION_PATH" ]; then
    rules+=("type='signal',interface='org.freedesktop.DBus.Properties',member='PropertiesChanged',path='$SESSION_PATH',arg0='org.freedesktop.login1.Session'$sender")
  fi
  while :; do
    dbus-monitor --system "${rules[@]}" | parse_monitor
    log "watching the system bus stopped; again in 10 s"
    sleep 10
  done
}

watch_session() {
  local name rules=()
  for name in org.gnome.ScreenSaver org.freedesktop.ScreenSaver org.mate.ScreenSaver \
    org.cinnamon.ScreenSaver org.xfce.ScreenSaver; do
    rules+=("type='signal',interface='$name',member='ActiveChanged'")
  done
  while :; do
    dbus-monitor --session "${rules[@]}" | parse_monitor
    log "watching the session bus stopped; again in 10 s"
    sleep 10
  done
}

heartbeat_ticker() {
  while sleep "$PH_HEARTBEAT_SECONDS"; do
    emit heartbeat
  done
}

login1() {
  dbus-send --system --print-reply=literal --reply-timeout=5000 --dest=org.freedesktop.login1 "$@" 2>/dev/null
}

find_session() {
  local id
  if [ -n "$PH_SESSION_PATH" ]; then
    printf '%s\n' "$PH_SESSION_PATH"
    return 0
  fi
  id="${XDG_SESSION_ID:-}"
  if [ -z "$id" ] && command -v loginctl >/dev/null 2>&1; then
    id=$(loginctl show-user "$(id -u)" -p Display --value 2>/dev/null)
  fi
  [ -n "$id" ] || return 1
  login1 /org/freedesktop/login1 org.freedesktop.login1.Manager.GetSession "string:$id" | tr -d ' \n'
}

# A delay inhibitor gives us the seconds to report "lock" before the machine sleeps. It is held by
# systemd-inhibit for as long as its `cat` reads from a pipe we keep open; closing the pipe releases it.
take_inhibitor() {
  [ -z "$INHIBIT_FD" ] || return 0
  command -v systemd-inhibit >/dev/null 2>&1 || return 0
  exec {INHIBIT_FD}> >(exec systemd-inhibit --what=sleep --mode=delay --who="Presence Heartbeat" \
    --why="Reporting the lock before sleep" cat >/dev/null 2>&1)
}

release_inhibitor() {
  [ -n "$INHIBIT_FD" ] || return 0
  exec {INHIBIT_FD}>&-
  INHIBIT_FD=""
}

dispatch() {
  local what at
  while :; do
    IFS=' ' read -r what at <&3 || continue
    case "$what" in
      lock | unlock)
        LOCKED=$what
        if [ "$what" != "$LAST_SENT" ]; then
          send "$what" "$at" "$PH_RETRY_SECONDS"
          LAST_SENT=$what
        fi
        ;;
      sleep)
        if [ "$POWER" != sleep ]; then
          send sleep "$at" "$SLEEP_BUDGET_SECONDS"
          POWER="sleep"
          LAST_SENT=lock # asleep stands for locked: the locker's own lock report at suspend adds nothing
        fi
        release_inhibitor
        ;;
      wake)
        take_inhibitor
        if [ "$POWER" != awake ]; then
          POWER="awake"
          if [ "$LOCKED" = lock ]; then
            send lock "$at" "$PH_RETRY_SECONDS"
            LAST_SENT=lock
          else
            send resume "$at" "$PH_RETRY_SECONDS"
            LAST_SENT=unlock
          fi
        fi
        ;;
      heartbeat)
        send heartbeat "$at" "$PH_RETRY_SECONDS"
        ;;
    esac
  done
}

stop_children() {
  local pid
  if [ "$(ps -o pgid= -p "$$" | tr -d ' ')" = "$$" ]; then
    kill -TERM -- "-$$" 2>/dev/null # our process group: the watchers and their dbus-monitor
  else
    for pid in $(jobs -p); do
      pkill -TERM -P "$pid" 2>/dev/null
      kill -TERM "$pid" 2>/dev/null
    done
  fi
  release_inhibitor
}

on_stop() {
  trap '' TERM INT HUP
  stop_children
  send logoff "$(now_utc)" 10
  exit 0
}

main() {
  local tool fifo hint
  read_key || exit "$EX_CONFIG"
  for tool in curl dbus-monitor dbus-send; do
    if ! command -v "$tool" >/dev/null 2>&1; then
      log "$tool is missing: install it (Debian/Ubuntu: curl dbus-bin)"
      exit "$EX_CONFIG"
    fi
  done
  SESSION_PATH=$(find_session) || SESSION_PATH=""
  if [ -n "$SESSION_PATH" ]; then
    hint=$(login1 "$SESSION_PATH" org.freedesktop.DBus.Properties.Get \
      string:org.freedesktop.login1.Session string:LockedHint)
    case "$hint" in
      *"boolean true"*) LOCKED=lock ;;
      *"boolean false"*) LOCKED=unlock ;;
    esac
  else
    log "no logind session found for $PH_USER: watching the screensaver and sleep signals only"
  fi

  # Every watcher writes into one pipe that only this shell reads, so triggers leave in order.
  fifo=$(mktemp -u "${XDG_RUNTIME_DIR:-/tmp}/presence-heartbeat.XXXXXX")
  mkfifo -m 600 "$fifo" || exit 1
  exec 3<>"$fifo"
  rm -f "$fifo"
  trap on_stop TERM INT HUP
  watch_system >&3 &
  watch_session >&3 &
  if [ "$PH_HEARTBEAT_SECONDS" -gt 0 ]; then
    heartbeat_ticker >&3 &
  fi
  take_inhibitor
  log "reporting for $PH_USER on $PH_DEVICE to $PH_URL (session ${SESSION_PATH:-unknown})"
  send logon "$(now_utc)" "$PH_RETRY_SECONDS"
  dispatch
}

main "$@"
