#!/usr/bin/env bash
# make demo: central (embedded broker, console, admin API) + one display agent.
# State lives in $DEMO_DIR (default .demo/); delete it to start from scratch.
set -euo pipefail
cd "$(dirname "$0")/../.."

STATE=${DEMO_DIR:-.demo}
HTTP=${DEMO_HTTP:-127.0.0.1:8080}
MQTT=${DEMO_MQTT:-127.0.0.1:1883}
DEVICE=${DEMO_DEVICE:-demo-atm-13-0001}
BRANCH=${DEMO_BRANCH:-demo-shinjuku-001}
PREF=${DEMO_PREF:-13}
BIN=${BIN:-bin}
mkdir -p "$STATE/device" "$STATE/log"
chmod 700 "$STATE"

pids=()
cleanup() {
  trap - EXIT INT TERM
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

say() { printf '\n== %s\n' "$*"; }

first_start=0
[[ -d "$STATE/central" ]] || first_start=1

say "starting central (HTTP $HTTP, embedded MQTT broker $MQTT, data $STATE/central)"
"$BIN/central" serve --data "$STATE/central" --http "$HTTP" --mqtt "$MQTT" \
  --enroll-token-file "$STATE/enroll-token" >"$STATE/log/central.log" 2>&1 &
pids+=($!)

ok=0
for _ in $(seq 1 100); do
  if curl -fsS "http://$HTTP/healthz" >/dev/null 2>&1; then ok=1; break; fi
  if ! kill -0 "${pids[0]}" 2>/dev/null; then break; fi
  sleep 0.2
done
if [[ $ok -ne 1 ]]; then
  echo "central did not come up; its log:" >&2
  cat "$STATE/log/central.log" >&2
  exit 1
fi

if [[ ! -f "$STATE/device/device.toml" ]]; then
  say "enrolling display $DEVICE (branch $BRANCH, prefecture $PREF) with kiosk-config"
  "$BIN/kiosk-config" init -device "$DEVICE" -branch "$BRANCH" -pref "$PREF" \
    -width 1280 -height 720 -out "$STATE/device/draft.toml" -force
  "$BIN/kiosk-config" enroll -central "http://$HTTP" -token-file "$STATE/enroll-token" \
    -out "$STATE/device/device.toml" "$STATE/device/draft.toml"
fi

say "starting the display agent"
agent_cmd=("$BIN/kiosk-agent" --config "$STATE/device/device.toml"
  --provisioning-key "$STATE/device/provisioning.pub" --data "$STATE/device/data" --windowed)
if [[ -z "${DISPLAY:-}" ]]; then
  echo "no DISPLAY: running the kiosk under Xvfb (virtual screen; its screenshots are in the console)"
  xvfb-run -a -s "-screen 0 1280x720x24" "${agent_cmd[@]}" >"$STATE/log/agent.log" 2>&1 &
else
  "${agent_cmd[@]}" >"$STATE/log/agent.log" 2>&1 &
fi
pids+=($!)

say "running"
echo "console:   http://$HTTP/"
if [[ $first_start -eq 1 ]]; then
  grep '^central: ' "$STATE/log/central.log" || true
else
  echo "login:     the admin password was printed at the first start (delete $STATE to start over)"
fi
echo "logs:      $STATE/log/central.log, $STATE/log/agent.log"
echo "Ctrl-C stops everything."
wait -n "${pids[@]}" || true
echo "a process exited; see the logs in $STATE/log" >&2
