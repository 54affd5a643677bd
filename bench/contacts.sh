#!/usr/bin/env bash
# How durable SalesMan adds hold up as the store grows, with phones and
# e-mails that count up per connection (what bench/run.sh sends) and with
# phones and e-mails scattered over the number space, as real people's are.
# Each mode starts from an empty store and runs ROUNDS back-to-back rounds
# against it; a row per round. Prints a Markdown table for BENCHMARKS.md.
#
#   bench/contacts.sh                  # 4 rounds of 10 s, 64 connections
#   ROUNDS=6 SECONDS_PER_ROUND=10 bench/contacts.sh
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=${ROUNDS:-4}
seconds=${SECONDS_PER_ROUND:-10}
connections=${CONNECTIONS:-64}
cargo build --profile dist --quiet --bin leadgate --example loadgen

. bench/common.sh
write_salesman_config

echo "| contacts | round | leads stored before | leadgate rps | p50 ms | p99 ms | errors |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for mode in sequential random; do
  rm -f "$work"/leads.db*
  target/dist/leadgate serve --config "$work/bench.toml" >"$work/gateway.log" 2>&1 & gateway=$!
  wait_port 18080
  stored=0
  for round in $(seq "$rounds"); do
    g=$(LOADGEN_CONTACTS=$mode target/dist/examples/loadgen http://127.0.0.1:18080 "$connections" "$seconds")
    stored=$(python3 - "$g" "$mode" "$round" "$stored" <<'PY'
import json, sys
g, mode, round_, stored = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
print(f"| {mode} | {round_} | {stored} | {g['rps']:.0f} | {g['p50_ms']:.2f} | {g['p99_ms']:.2f} | {g['errors']} |", file=sys.stderr)
print(stored + g["requests"])
PY
)
  done
  kill "$gateway"; wait "$gateway" 2>/dev/null || true
done 2>&1
echo
