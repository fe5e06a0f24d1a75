#!/usr/bin/env bash
# Installs Presence Heartbeat's computer-level reports (startup and shutdown, with no user) — run as root:
#   the API key       → /etc/presence-heartbeat/key (mode 600: root only)
#   the script        → /usr/local/sbin/presence-heartbeat-computer
#   the system unit   → /etc/systemd/system/presence-heartbeat-computer.service (enabled and started)
# Each user's own service (install.sh, no root) reports their logon, lock, sleep and logoff; this one
# tells the server when the computer itself goes down, for everybody on it.
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
  echo "Run this as root: sudo ./install-computer.sh" >&2
  exit 1
fi
here=$(cd "$(dirname "$0")" && pwd)
umask 077
install -d -m 700 /etc/presence-heartbeat
install -m 600 "$here/key" /etc/presence-heartbeat/key
install -m 755 "$here/presence-heartbeat-computer.sh" /usr/local/sbin/presence-heartbeat-computer
install -m 644 "$here/presence-heartbeat-computer.service" /etc/systemd/system/presence-heartbeat-computer.service
systemctl daemon-reload
if grep -q '{{ key_placeholder }}' /etc/presence-heartbeat/key; then
  echo "Installed, not started: put the API key into /etc/presence-heartbeat/key (it holds the placeholder)," >&2
  echo "then run: systemctl enable --now presence-heartbeat-computer.service" >&2
  exit 1
fi
systemctl enable --now presence-heartbeat-computer.service
echo "Presence Heartbeat reports this computer's startup and shutdown. Its log: journalctl -u presence-heartbeat-computer"
