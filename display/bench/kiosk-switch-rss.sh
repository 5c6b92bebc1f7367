#!/usr/bin/env bash
# RSS of the kiosk while it changes screens: the demo alert rotating its
# languages every DWELL (each change is a cross-fade and a frame check),
# full-screen 1920x1080 under Xvfb, VmRSS sampled every 2 s, then the peak.
# Usage: display/bench/kiosk-switch-rss.sh [dwell=3s] [samples=7]
#   KIOSK_BIN=/path/to/kiosk-agent  use that binary instead of building the tree.
set -euo pipefail
dwell=${1:-3s}
samples=${2:-7}
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export GOTOOLCHAIN=local GOFLAGS=-buildvcs=false
if [[ -n ${KIOSK_BIN:-} ]]; then
  cp "$KIOSK_BIN" "$tmp/kiosk-agent"
else
  (cd "$root" && go build -o "$tmp/kiosk-agent" ./agent/cmd/kiosk-agent)
fi
cat >"$tmp/inner.sh" <<'INNER'
#!/usr/bin/env bash
set -euo pipefail
bin=$1 alert=$2 dwell=$3 samples=$4 tmp=$5
"$bin" --unsigned-demo --alert-file "$alert" --lang-dwell "$dwell" >"$tmp/kiosk.log" 2>&1 &
pid=$!
printf '  VmRSS (MB) every 2 s:'
for _ in $(seq "$samples"); do
  sleep 2
  printf ' %d' "$(awk '/^VmRSS/ {print int($2/1024)}' "/proc/$pid/status")"
done
printf '\n  peak VmHWM: %d MB; screens shown and checked: %d\n' \
  "$(awk '/^VmHWM/ {print int($2/1024)}' "/proc/$pid/status")" "$(grep -c 'msg=displayed' "$tmp/kiosk.log" || true)"
kill -TERM "$pid"; wait "$pid" || true
INNER
chmod +x "$tmp/inner.sh"
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); alert languages rotating every $dwell"
xvfb-run -a -s "-screen 0 1920x1080x24" "$tmp/inner.sh" "$tmp/kiosk-agent" "$root/display/testdata/alert-0110.json" "$dwell" "$samples" "$tmp"
