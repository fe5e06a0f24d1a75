#!/usr/bin/env bash
# Installs Presence Heartbeat for the user who runs it (no root needed):
#   the API key       → ~/.config/presence-heartbeat/key (mode 600: readable by this user only)
#   the script        → ~/.local/bin/presence-heartbeat
#   the systemd unit  → ~/.config/systemd/user/presence-heartbeat.service (enabled and started)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
config="${XDG_CONFIG_HOME:-$HOME/.config}"
umask 077
mkdir -p "$config/presence-heartbeat" "$HOME/.local/bin" "$config/systemd/user"
install -m 600 "$here/key" "$config/presence-heartbeat/key"
install -m 755 "$here/presence-heartbeat.sh" "$HOME/.local/bin/presence-heartbeat"
install -m 644 "$here/presence-heartbeat.service" "$config/systemd/user/presence-heartbeat.service"
systemctl --user daemon-reload
if grep -q '{{ key_placeholder }}' "$config/presence-heartbeat/key"; then
  echo "Installed, not started: put the API key into $config/presence-heartbeat/key (it holds the placeholder)," >&2
  echo "then run: systemctl --user enable --now presence-heartbeat.service" >&2
  exit 1
fi
systemctl --user enable --now presence-heartbeat.service
echo "Presence Heartbeat is running. Follow it with: journalctl --user -u presence-heartbeat -f"
