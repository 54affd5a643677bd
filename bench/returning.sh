#!/usr/bin/env bash
# Durable SalesMan adds from people coming back after many other leads: the
# look-up that finds their earlier assignee has to reach far into the
# contact index. On an empty store, three phases at 64 connections:
#   1. first visit: SECONDS_FIRST s of people counting up per connection;
#   2. others: SECONDS_OTHERS s of new people scattered over the number
#      space (the store grows by a million or so leads);
#   3. returning: SECONDS_FIRST s of the first phase's people again.
# Prints a Markdown table row per phase for BENCHMARKS.md.
#
#   bench/returning.sh
#   LEADGATE_BIN=/path/to/other/leadgate bench/returning.sh   # A/B builds
set -euo pipefail
cd "$(dirname "$0")/.."

first=${SECONDS_FIRST:-8}
others=${SECONDS_OTHERS:-50}
connections=${CONNECTIONS:-64}
gateway_bin=${LEADGATE_BIN:-target/dist/leadgate}
cargo build --profile dist --quiet --bin leadgate --example loadgen

. bench/common.sh
write_salesman_config

"$gateway_bin" serve --config "$work/bench.toml" >"$work/gateway.log" 2>&1 & gateway=$!
wait_port 18080

echo "| phase | leads stored before | leadgate rps | p50 ms | p99 ms | errors |"
echo "|---|---:|---:|---:|---:|---:|"
stored=0
for phase in first-visit others returning; do
  case $phase in
    others) contacts=random seconds=$others ;;
    *) contacts=sequential seconds=$first ;;
  esac
  g=$(LOADGEN_CONTACTS=$contacts target/dist/examples/loadgen http://127.0.0.1:18080 "$connections" "$seconds")
  stored=$(python3 - "$g" "$phase" "$stored" <<'PY'
import json, sys
g, phase, stored = json.loads(sys.argv[1]), sys.argv[2], int(sys.argv[3])
print(f"| {phase} | {stored} | {g['rps']:.0f} | {g['p50_ms']:.2f} | {g['p99_ms']:.2f} | {g['errors']} |", file=sys.stderr)
print(stored + g["requests"])
PY
)
done 2>&1
echo
echo "leadgate peak RSS: $(peak_rss_mb $gateway) MB"
