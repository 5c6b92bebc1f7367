#!/usr/bin/env bash
# One-command lab: central + a broker + N simulated displays (real agent
# cores, headless) on this machine, until Ctrl-C. State persists in DATA, so
# a second run resumes with the same devices, keys and admin password.
#
#   deploy/scripts/lab.sh                 # embedded broker, 20 displays
#   N=200 deploy/scripts/lab.sh           # more displays
#   BROKER=mosquitto deploy/scripts/lab.sh  # /usr/sbin/mosquitto with the
#                                           # production config (TLS + ACLs)
# Console: http://127.0.0.1:8080/ (the admin password is printed on the
# first run). See docs/OPERATIONS.md, "Lab".
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
export GOTOOLCHAIN=local GOFLAGS=-buildvcs=false
n=${N:-20}
data=${DATA:-${TMPDIR:-/tmp}/kiosk-lab}
http=${HTTP_ADDR:-127.0.0.1:8080}
mqtt=${MQTT_ADDR:-127.0.0.1:1883}
mkdir -p "$data" bin
go build -o bin/fleetsim ./deploy/cmd/fleetsim
args=(lab -n "$n" -data "$data" -http "$http" -mqtt "$mqtt")
if [[ ${BROKER:-embedded} == mosquitto ]]; then
  args+=(-mosquitto)
fi
exec bin/fleetsim "${args[@]}"
