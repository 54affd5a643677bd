#!/usr/bin/env bash
# Durable SalesMan adds with phones scattered as real people's are, on a
# store that already holds many such leads (what a gateway meets after
# months, not what an empty store shows). Fills the store through Bitrix24
# `batch` (50 leads a request) until it holds LEADS leads, flushes it to
# disk, restarts the gateway on it, then runs ROUNDS rounds of SalesMan adds
# at 64 connections. Prints a Markdown table for BENCHMARKS.md; "KB written
# per lead" is everything the gateway passed to write calls, over the leads
# of the round.
#
#   bench/large_store.sh                         # 1 000 000 leads, 3 rounds of 10 s
#   LEADS=300000 ROUNDS=2 SECONDS_PER_ROUND=5 bench/large_store.sh
#   LEADGATE_BIN=/path/to/other/leadgate bench/large_store.sh   # A/B builds
set -euo pipefail
cd "$(dirname "$0")/.."

leads=${LEADS:-1000000}
rounds=${ROUNDS:-3}
seconds=${SECONDS_PER_ROUND:-10}
connections=${CONNECTIONS:-64}
gateway_bin=${LEADGATE_BIN:-target/dist/leadgate}
cargo build --profile dist --quiet --bin leadgate --example loadgen

. bench/common.sh
{ salesman_section; bitrix24_section; } | write_config 18080

"$gateway_bin" serve --config "$work/bench.toml" >"$work/gateway.log" 2>&1 & gateway=$!
wait_port 18080
fill_to "$leads"
kill "$gateway"; wait "$gateway" 2>/dev/null || true
sync

"$gateway_bin" serve --config "$work/bench.toml" >"$work/gateway.log" 2>&1 & gateway=$!
wait_port 18080
echo "| round | leads stored before | leadgate rps | p50 ms | p99 ms | max ms | KB written per lead | errors |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|"
for round in $(seq "$rounds"); do
  before=$(stored)
  written=$(awk '/^wchar/ {print $2}' "/proc/$gateway/io")
  g=$(LOADGEN_CONTACTS=random target/dist/examples/loadgen http://127.0.0.1:18080 "$connections" "$seconds")
  written=$(( $(awk '/^wchar/ {print $2}' "/proc/$gateway/io") - written ))
  python3 - "$g" "$round" "$before" "$written" <<'PY'
import json, sys
g, round_, before, written = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
print(f"| {round_} | {before} | {g['rps']:.0f} | {g['p50_ms']:.2f} | {g['p99_ms']:.2f} | {g['max_ms']:.1f} "
      f"| {written / 1024 / max(g['requests'], 1):.1f} | {g['errors']} |")
PY
done
echo
echo "leadgate peak RSS after the restart: $(peak_rss_mb $gateway) MB"
