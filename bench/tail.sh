#!/usr/bin/env bash
# Tail latency of durable SalesMan adds over runs long enough to include
# the store's checkpoints (issue 29: p99 under 10 ms at 64 connections over
# 60 s runs). Each run starts the gateway on a fresh copy of STORE (a file
# bench/fill_store.sh made) or on an empty store, then drives it with the
# repo's load generator (scattered phones) and with `wrk` (a new person per
# request, bench/wrk_salesman_add.lua), one after the other on separate
# gateways. Prints a Markdown table for BENCHMARKS.md.
#
#   bench/tail.sh                                  # empty store, 60 s each
#   STORE=target/seed.db SECONDS_PER_RUN=60 bench/tail.sh
#   LEADGATE_BIN=/path/to/other/leadgate bench/tail.sh
set -euo pipefail
store=${STORE:+$(realpath "$STORE")}
cd "$(dirname "$0")/.."
seconds=${SECONDS_PER_RUN:-60}
connections=${CONNECTIONS:-64}
gateway_bin=$(realpath "${LEADGATE_BIN:-target/dist/leadgate}")
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 2; }
cargo build --profile dist --quiet --example loadgen
[ -n "${LEADGATE_BIN:-}" ] || cargo build --profile dist --quiet --bin leadgate

. bench/common.sh
write_salesman_config

# Starts the gateway on a fresh copy of the starting store; sets $gateway.
start_gateway() {
  rm -f "$work"/leads.db*
  if [ -n "$store" ]; then cp "$store" "$work/leads.db"; fi
  "$gateway_bin" serve --config "$work/bench.toml" >"$work/gateway.log" 2>&1 & gateway=$!
  wait_port 18080
}

row() {
  python3 - "$1" "$2" "$3" "$4" <<'PY'
import json, sys
client, result, before, rss = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3], sys.argv[4]
print(f"| {client} | {before} | {result['rps']:.0f} | {result['p50_ms']:.2f} | {result['p99_ms']:.2f} "
      f"| {result['max_ms']:.1f} | {result['errors']} | {rss} |")
PY
}

echo "| client | leads stored before | adds/s | p50 ms | p99 ms | max ms | errors | peak RSS MB |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
start_gateway
before=$(stored)
result=$(LOADGEN_CONTACTS=random target/dist/examples/loadgen http://127.0.0.1:18080 "$connections" "$seconds")
row "loadgen, $connections connections, ${seconds} s" "$result" "$before" "$(peak_rss_mb "$gateway")"
kill -INT "$gateway"; wait "$gateway" 2>/dev/null || true

start_gateway
before=$(stored)
result=$(wrk -t2 -c"$connections" -d"${seconds}s" --timeout 10s -s bench/wrk_salesman_add.lua \
  http://127.0.0.1:18080 | tail -1)
row "wrk, $connections connections, ${seconds} s" "$result" "$before" "$(peak_rss_mb "$gateway")"
kill -INT "$gateway"; wait "$gateway" 2>/dev/null || true
