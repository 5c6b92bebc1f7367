#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages the build, the tests and the demo need.
# Idempotent and fast when everything is present: it asks dpkg first and only
# runs apt-get for what is missing.
#
#   deploy/scripts/install-deps.sh            # build + test packages
#   deploy/scripts/install-deps.sh cluster    # also nats-server for make test-cluster
set -euo pipefail

pkgs=(
  # cgo build of ebiten (the kiosk presenter)
  gcc libc6-dev pkg-config libgl1-mesa-dev libx11-dev libxrandr-dev libxcursor-dev
  libxinerama-dev libxi-dev libxxf86vm-dev
  # a real X server for the ebiten tests and the demo on a headless machine,
  # and xset/xhost for the kiosk session test
  xvfb xauth libgl1-mesa-dri x11-xserver-utils
  # the second real broker the agent and central are tested against
  mosquitto
  # the browser the console end-to-end tests drive, and a Japanese font for it
  # (without one the console screenshots show Japanese as boxes)
  chromium fonts-noto-cjk
  # tools the scripts and tests use (systemd-analyze verifies the units)
  ca-certificates procps curl systemd
)
if [[ "${1:-}" == "cluster" ]]; then
  pkgs+=(nats-server)
fi

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]} == 0)); then
  exit 0
fi

if ! command -v apt-get >/dev/null; then
  echo "install-deps: missing packages ${missing[*]} and no apt-get; install them by hand" >&2
  exit 1
fi
sudo=""
if [[ $(id -u) -ne 0 ]]; then
  sudo="sudo"
fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# No service is started by a package install: tests start their own brokers.
if [[ ! -e /usr/sbin/policy-rc.d ]]; then
  printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
  $sudo chmod +x /usr/sbin/policy-rc.d
  trap '$sudo rm -f /usr/sbin/policy-rc.d' EXIT
fi
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
