#!/bin/sh
# X client script for xinit (kiosk-x.service). It prepares the display and
# then waits: the agent runs as its own systemd service (kiosk-agent.service,
# watchdog + restart) and draws on this display. When this script exits, X
# exits, and systemd restarts both.
#
# Runs as the kiosk user with DISPLAY set by xinit. Also used by the tests
# (deploy/kiosk) against Xvfb, with KIOSK_SESSION_ONESHOT=1.
set -eu

# Blank screens: a warning that has gone dark protects nobody.
# s off: no screen saver; s noblank: never blank; -dpms: no power saving.
xset s off
xset s noblank
xset -dpms

# Only local clients of this same user may draw (the agent runs as kiosk).
if command -v xhost >/dev/null 2>&1; then
  xhost -
  xhost +si:localuser:"$(id -un)"
fi

# A black root window rather than the X weave while the agent (re)starts;
# the agent's first frame is on screen within a second of its start.
if command -v xsetroot >/dev/null 2>&1; then
  xsetroot -solid black
fi

if [ "${KIOSK_SESSION_ONESHOT:-}" = "1" ]; then
  exit 0
fi
# Keep the X session alive until systemd stops it.
exec sleep infinity
