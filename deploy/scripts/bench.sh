#!/usr/bin/env bash
# make bench: every benchmark of the project, within ~15 minutes on 2 cores.
# Prints one table per area; the figures and their meaning are in
# docs/BENCHMARKS.md. All load is on loopback, bounded in count and time.
#
#   deploy/scripts/bench.sh              # everything
#   BENCH_FLEET_N=1000 deploy/scripts/bench.sh   # smaller fleet run
#   BENCH_ONLY=fleet deploy/scripts/bench.sh     # only the fleet simulator
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
export GOTOOLCHAIN=local GOFLAGS=-buildvcs=false
only=${BENCH_ONLY:-all}
fleet_n=${BENCH_FLEET_N:-1000,10000:mosquitto}
ingest_n=${BENCH_INGEST_N:-100000}
out=${BENCH_OUT:-$(mktemp -d)}
mkdir -p "$out"
start=$(date +%s)
echo "bench: $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(go version | cut -d' ' -f3), $(date -u +%FT%TZ); results in $out"
echo "bench: open files limit $(ulimit -n) (the fleet simulator keeps <= 10,000 per process)"

section() { echo; echo "## $1 ($(( $(date +%s) - start )) s elapsed)"; }

if [[ $only == all || $only == go ]]; then
  # Go benchmarks of the packages (short, fixed iteration counts).
  section "Go benchmarks (wire, config, agent, central)"
  go test -run '^$' -bench . -benchmem -benchtime=200x -count=1 \
    ./internal/wire ./firmware-config/config 2>&1 | grep -E '^(Benchmark|ok|FAIL)' | tee "$out/go-bench-core.txt"
  go test -run '^$' -bench 'VerifyPersist|VerifyOnly|FirstScreen' -benchmem -benchtime=100x -count=1 ./agent/ 2>&1 \
    | grep -E '^(Benchmark|ok|FAIL)' | tee "$out/go-bench-agent.txt" || true
  go test -run '^$' -bench 'Ingest' -benchtime=100000x -count=1 ./central/registry 2>&1 \
    | grep -E '^(Benchmark|ok|FAIL)' | tee "$out/go-bench-central.txt" || true
fi

if [[ $only == all || $only == fleet ]]; then
  section "Fleet: real agent cores vs bare paho, reconnect storm, central ingest"
  go build -o "$out/fleetsim" ./deploy/cmd/fleetsim
  # Central (+ embedded broker, or /usr/sbin/mosquitto for N:mosquitto) in the
  # fleetsim process, simulated displays in child processes (5,000 per child:
  # 2 file descriptors each). 10,000 against the embedded broker takes ~15
  # minutes by itself on 2 cores (BENCH_FLEET_N=10000; see BENCHMARKS.md),
  # so the default 10,000 run uses mosquitto.
  "$out/fleetsim" bench -n "$fleet_n" -ingest "$ingest_n" -json "$out/fleet.json" | tee "$out/fleet.md"
fi

if [[ $only == all || $only == kiosk ]]; then
  section "Kiosk: cold start to first frame, static-screen CPU and RSS (display/bench)"
  if [[ -x display/bench/kiosk-bench.sh ]]; then
    display/bench/kiosk-bench.sh 5 20 2>&1 | tee "$out/kiosk.txt"
  else
    echo "display/bench/kiosk-bench.sh not found: skipped"
  fi
fi

echo
echo "bench: done in $(( $(date +%s) - start )) s; raw output in $out"
