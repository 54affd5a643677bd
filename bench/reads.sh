#!/usr/bin/env bash
# Every documented read of every dialect on a store of many leads: p50,
# p99 and max per read, and the gateway's peak RSS after each (issue 29).
# Starts from STORE (a file bench/fill_store.sh made; copied, never
# changed), or fills a new store with LEADS leads (default 1 000 000).
#
#   bench/reads.sh
#   STORE=target/seed.db REPEAT=50 bench/reads.sh
#   LEADGATE_BIN=/path/to/other/leadgate bench/reads.sh   # another build
set -euo pipefail
cd "$(dirname "$0")/.."
leads=${LEADS:-1000000}
repeat=${REPEAT:-20}
gateway_bin=$(realpath "${LEADGATE_BIN:-target/dist/leadgate}")
cargo build --profile dist --quiet --example loadgen
[ -n "${LEADGATE_BIN:-}" ] || cargo build --profile dist --quiet --bin leadgate

. bench/common.sh
{ salesman_section; bitrix24_section; livetex_section; uis_section; } | write_config 18080

if [ -n "${STORE:-}" ]; then
  cp "$STORE" "$work/leads.db"
else
  "$gateway_bin" serve --config "$work/bench.toml" >"$work/gateway.log" 2>&1 & gateway=$!
  wait_port 18080
  fill_to "$leads"
  kill -INT "$gateway"; wait "$gateway" 2>/dev/null || true
fi
sync

"$gateway_bin" serve --config "$work/bench.toml" >"$work/gateway.log" 2>&1 & gateway=$!
wait_port 18080 120
echo "leadgate peak RSS after the start: $(peak_rss_mb $gateway) MB; store $(du -m "$work/leads.db" | cut -f1) MB"
python3 bench/reads.py http://127.0.0.1:18080 "$work/leads.db" "$gateway" "$repeat"
