#!/usr/bin/env bash
# Measures the kiosk binary under Xvfb (1920x1080x24, full-screen):
#   1. time from process start to the first frame on screen (N runs),
#   2. CPU (% of one core) and RSS/PSS of the kiosk showing a static screen
#      (the built-in standing warning) for SECONDS seconds.
# Usage: display/bench/kiosk-bench.sh [runs=5] [seconds=30]
#   KIOSK_BIN=/path/to/kiosk-agent  bench that binary instead of building the
#   tree (A/B comparisons: build the other commit with `git archive`).
#   The environment is passed on (e.g. MALLOC_ARENA_MAX=2 to try it).
# Needs: xvfb (xvfb-run), the ebiten build deps (deploy/scripts/install-deps.sh).
set -euo pipefail
runs=${1:-5}
secs=${2:-30}
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
bin=$1 runs=$2 secs=$3 tmp=$4
hz=$(getconf CLK_TCK)
echo "first frame (exec -> frame presented), full-screen 1920x1080, $runs runs:"
ff=() ip=()
for i in $(seq "$runs"); do
  t0=$(date +%s%3N)
  line=$("$bin" --exit-after-first-frame 2>&1 | grep -m1 'first frame on screen')
  # the log line's own timestamp (ms) minus the time just before exec
  t1=$(date -d "$(sed -E 's/^time=([^ ]+) .*/\1/' <<<"$line")" +%s%3N)
  inproc=$(sed -E 's/.*since_process_start=([0-9.]+)(ms|s).*/\1 \2/' <<<"$line" | awk '{ if ($2=="s") print $1*1000; else print $1 }')
  ff+=("$((t1-t0))") ip+=("$inproc")
  printf '  run %d: %d ms from exec (%s ms after main package init)\n' "$i" $((t1-t0)) "$inproc"
done
printf '%s\n' "${ff[@]}" | sort -n | awk '{a[NR]=$1} END {printf "  from exec: median %s ms, min %s ms, max %s ms\n", a[int((NR+1)/2)], a[1], a[NR]}'
printf '%s\n' "${ip[@]}" | sort -n | awk '{a[NR]=$1} END {printf "  from main package init: median %s ms, min %s ms, max %s ms\n", a[int((NR+1)/2)], a[1], a[NR]}'

echo "static screen (standing warning, full-screen 1920x1080) for ${secs}s:"
"$bin" >"$tmp/kiosk.log" 2>&1 &
pid=$!
for _ in $(seq 100); do grep -q 'first frame on screen' "$tmp/kiosk.log" && break; sleep 0.1; done
sleep 3 # let the watchdog read-back and start-up garbage settle
ticks() { awk '{print $14+$15}' "/proc/$pid/stat"; }
a=$(ticks); s0=$(date +%s%N)
sleep "$secs"
b=$(ticks); s1=$(date +%s%N)
awk -v a="$a" -v b="$b" -v hz="$hz" -v ns=$((s1-s0)) 'BEGIN { printf "  CPU: %.2f%% of one core (%d ticks in %.1f s)\n", (b-a)/hz/(ns/1e9)*100, b-a, ns/1e9 }'
grep -E 'VmRSS|VmHWM' "/proc/$pid/status" | sed 's/^/  /'
awk '/^Pss:/ {printf "  PSS: %d kB\n", $2}' "/proc/$pid/smaps_rollup"
kill -TERM "$pid"; wait "$pid" || true
echo "load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
INNER
chmod +x "$tmp/inner.sh"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg)"
xvfb-run -a -s "-screen 0 1920x1080x24" "$tmp/inner.sh" "$tmp/kiosk-agent" "$runs" "$secs" "$tmp"
