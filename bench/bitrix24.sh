#!/usr/bin/env bash
# Measures Bitrix24 crm.lead.add (JSON) and batch (50 adds per request) on
# the gateway, durable, next to the bare hyper server receiving the same
# requests, on the same machine in the same run. Prints a Markdown table for
# BENCHMARKS.md.
#
#   bench/bitrix24.sh              # 10 s per point, 64 connections
#   SECONDS_PER_POINT=5 CONNECTIONS="16 64" bench/bitrix24.sh
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${SECONDS_PER_POINT:-10}
connections=${CONNECTIONS:-64}
cargo build --profile dist --quiet --bin leadgate --example loadgen --example bare_server

. bench/common.sh

{ printf '[salesman]\nenabled = false\n'; bitrix24_section; } | write_config 18090

target/dist/examples/bare_server 127.0.0.1:18091 & bare=$!
target/dist/leadgate serve --config "$work/bench.toml" & gateway=$!
wait_port 18091; wait_port 18090

echo "| request | connections | bare rps | leadgate rps | ratio | leadgate leads/s | leadgate p50 ms | leadgate p99 ms | bare p99 ms | errors |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for mode in bitrix24-add bitrix24-batch; do
  for c in $connections; do
    b=$(LOADGEN_MODE=$mode target/dist/examples/loadgen http://127.0.0.1:18091 "$c" "$seconds")
    g=$(LOADGEN_MODE=$mode target/dist/examples/loadgen http://127.0.0.1:18090 "$c" "$seconds")
    python3 - "$mode" "$b" "$g" <<'PY'
import json, sys
mode, b, g = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
name = {"bitrix24-add": "crm.lead.add (JSON)", "bitrix24-batch": "batch of 50 crm.lead.add"}[mode]
print(f"| {name} | {g['connections']} | {b['rps']:.0f} | {g['rps']:.0f} | {100*g['rps']/b['rps']:.0f}% "
      f"| {g['leads_per_s']:.0f} | {g['p50_ms']:.2f} | {g['p99_ms']:.2f} | {b['p99_ms']:.2f} | {g['errors']} |")
PY
  done
done
echo
echo "leadgate peak RSS: $(peak_rss_mb $gateway) MB; bare server peak RSS: $(peak_rss_mb $bare) MB"
leads=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from leads').fetchone()[0])" "$work/leads.db")
echo "leads stored during the run: $leads"
