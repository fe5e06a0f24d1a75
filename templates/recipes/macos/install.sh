#!/bin/bash
# Installs Presence Heartbeat for the user who runs it (no administrator rights needed):
#   the API key       → ~/Library/Application Support/PresenceHeartbeat/key (mode 600: this user only)
#   the script        → ~/Library/Application Support/PresenceHeartbeat/presence-heartbeat.sh
#   the LaunchAgent   → ~/Library/LaunchAgents/com.presence-heartbeat.agent.plist (loaded now)
#   with sleepwatcher installed, also com.presence-heartbeat.sleepwatcher.plist (sleep and resume)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
dir="$HOME/Library/Application Support/PresenceHeartbeat"
agents="$HOME/Library/LaunchAgents"
domain="gui/$(id -u)"
umask 077
mkdir -p "$dir" "$agents" "$HOME/Library/Logs"
install -m 600 "$here/key" "$dir/key"
install -m 755 "$here/presence-heartbeat.sh" "$dir/presence-heartbeat.sh"
if grep -q '{{ key_placeholder }}' "$dir/key"; then
  echo "Not started: put the API key into $dir/key (it holds the placeholder), then run this again." >&2
  exit 1
fi

load() {
  install -m 644 "$here/$1.plist" "$agents/$1.plist"
  launchctl bootout "$domain/$1" 2>/dev/null || true
  launchctl bootstrap "$domain" "$agents/$1.plist"
}

load com.presence-heartbeat.agent
if PATH="/opt/homebrew/sbin:/usr/local/sbin:$PATH" command -v sleepwatcher >/dev/null 2>&1; then
  load com.presence-heartbeat.sleepwatcher
else
  echo "sleepwatcher is not installed: sleep is not reported, the wake is (brew install sleepwatcher, then run this again)."
fi
echo "Presence Heartbeat is running. Its log: ~/Library/Logs/PresenceHeartbeat.log"
