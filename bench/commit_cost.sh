#!/usr/bin/env bash
# What one commit of the SQLite writer costs, apart from the leads in it.
# For each connection count, runs durable SalesMan adds on a fresh store and
# prints adds/s, leads per commit (adds over the writer's log syncs, counted
# with `perf stat` on its syscall tracepoints) and the writer thread's CPU
# time per lead and per commit. Fitting "per lead = a + b / leads per
# commit" to two rows splits the writer's cost into a part per lead (a) and
# a part per commit (b). Needs `perf` and the right to trace (root).
#
#   bench/commit_cost.sh                      # 16, 64 and 256 connections
#   CONNECTIONS="64 256" SECONDS_PER_POINT=6 bench/commit_cost.sh
#   LEADGATE=path/to/other/leadgate bench/commit_cost.sh   # another build
set -euo pipefail
cd "$(dirname "$0")/.."
command -v perf >/dev/null || { echo "bench/commit_cost.sh needs perf" >&2; exit 2; }
seconds=${SECONDS_PER_POINT:-7}
connections=${CONNECTIONS:-"16 64 256"}
leadgate=$(realpath "${LEADGATE:-target/release/leadgate}")
cargo build --release --quiet --bin leadgate --example loadgen

. bench/common.sh
write_salesman_config

echo "| connections | adds/s | leads per commit | writer CPU µs per lead | writer CPU µs per commit |"
echo "|---:|---:|---:|---:|---:|"
for c in $connections; do
  rm -f "$work"/leads.db*
  "$leadgate" serve --config "$work/bench.toml" >"$work/gateway.log" 2>&1 & gateway=$!
  wait_port 18080
  writer=$(grep -l '^leadgate-sqlite' /proc/$gateway/task/*/comm | head -1 | xargs dirname)
  target/release/examples/loadgen http://127.0.0.1:18080 "$c" "$seconds" >"$work/load.json" & load=$!
  # Measured over the middle of the run, away from start-up and the end.
  sleep 2
  window=$((seconds - 3))
  before=$(awk '{print $14 + $15}' "$writer/stat")
  syncs=$(perf stat -x, -e syscalls:sys_enter_fsync,syscalls:sys_enter_fdatasync \
    -t "$(basename "$writer")" -- sleep "$window" 2>&1 | awk -F, '/sys_enter/ {n += $1} END {print n}')
  after=$(awk '{print $14 + $15}' "$writer/stat")
  wait "$load"
  kill -INT "$gateway"; wait "$gateway" 2>/dev/null || true
  python3 - "$work/load.json" "$syncs" "$before" "$after" "$window" <<'PY'
import json, os, sys
result = json.load(open(sys.argv[1]))
syncs, before, after, window = map(int, sys.argv[2:])
adds = result["rps"] * window
cpu_us = (after - before) * 1e6 / os.sysconf("SC_CLK_TCK")
print(f"| {result['connections']} | {result['rps']:.0f} | {adds / max(syncs, 1):.1f} "
      f"| {cpu_us / max(adds, 1):.1f} | {cpu_us / max(syncs, 1):.0f} |")
PY
done
