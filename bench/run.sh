#!/usr/bin/env bash
# Measures durable SalesMan action=add on the gateway next to a bare hyper
# server answering the same bytes, on the same machine in the same run.
# Prints a Markdown table for BENCHMARKS.md.
#
#   bench/run.sh            # 10 s per point
#   SECONDS_PER_POINT=5 bench/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${SECONDS_PER_POINT:-10}
connections=${CONNECTIONS:-"1 16 64 256"}
cargo build --profile dist --quiet --bin leadgate --example loadgen --example bare_server

. bench/common.sh
write_salesman_config

target/dist/examples/bare_server 127.0.0.1:18081 & bare=$!
target/dist/leadgate serve --config "$work/bench.toml" & gateway=$!
wait_port 18081; wait_port 18080

echo "| connections | bare rps | leadgate rps | ratio | leadgate p50 ms | leadgate p99 ms | bare p99 ms | errors |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|"
for c in $connections; do
  b=$(target/dist/examples/loadgen http://127.0.0.1:18081 "$c" "$seconds")
  g=$(target/dist/examples/loadgen http://127.0.0.1:18080 "$c" "$seconds")
  python3 - "$b" "$g" <<'PY'
import json, sys
b, g = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(f"| {g['connections']} | {b['rps']:.0f} | {g['rps']:.0f} | {100*g['rps']/b['rps']:.0f}% "
      f"| {g['p50_ms']:.2f} | {g['p99_ms']:.2f} | {b['p99_ms']:.2f} | {g['errors']} |")
PY
done
echo
echo "leadgate peak RSS: $(peak_rss_mb $gateway) MB; bare server peak RSS: $(peak_rss_mb $bare) MB"
leads=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from leads').fetchone()[0])" "$work/leads.db")
echo "leads stored during the run: $leads"
