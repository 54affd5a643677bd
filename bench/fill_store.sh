#!/usr/bin/env bash
# Makes a store file holding LEADS leads (default 1 000 000) with phones and
# e-mails scattered as real people's, for benchmarks that must start from
# months of leads rather than an empty store (bench/ab.sh's STORE_A/STORE_B).
# Fills it through Bitrix24 `batch` (50 leads a request) with the gateway
# build LEADGATE_BIN, closes the gateway cleanly (checkpointed, log
# truncated) and copies the file to OUT.
#
#   bench/fill_store.sh target/seed.db
#   LEADS=100000 LEADGATE_BIN=/path/to/leadgate bench/fill_store.sh OUT
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: bench/fill_store.sh OUT" >&2; exit 2; }
out=$(realpath -m "$1")
cd "$(dirname "$0")/.."
leads=${LEADS:-1000000}
gateway_bin=$(realpath "${LEADGATE_BIN:-target/dist/leadgate}")
cargo build --profile dist --quiet --example loadgen
[ -n "${LEADGATE_BIN:-}" ] || cargo build --profile dist --quiet --bin leadgate

. bench/common.sh
{ salesman_section; bitrix24_section; } | write_config 18080

"$gateway_bin" serve --config "$work/bench.toml" >"$work/gateway.log" 2>&1 & gateway=$!
wait_port 18080
started=$SECONDS
fill_to "$leads"
kill -INT "$gateway"; wait "$gateway" 2>/dev/null || true
cp "$work/leads.db" "$out"
echo "$(stored) leads in $((SECONDS - started)) s; $(du -m "$out" | cut -f1) MB at $out"
