#!/usr/bin/env bash
# End-to-end forwarding: throughput and delivery lag (accept -> target
# acknowledgement recorded) for the webhook and Bitrix24 targets, on this
# machine, in one run. Prints Markdown rows for BENCHMARKS.md.
#
#   bench/forward.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --profile dist --quiet --example forward_bench
bench=target/dist/examples/forward_bench
echo "| target | load | leads | accepted/s | forwarded/s | lag p50 ms | lag p99 ms | lag max ms | retried |"
echo "|---|---|---|---|---|---|---|---|---|"
"$bench" webhook burst 5000
"$bench" webhook steady 3000 500
"$bench" bitrix24-unpaced burst 5000
"$bench" bitrix24-unpaced steady 3000 500
"$bench" bitrix24-paced burst 1000
"$bench" bitrix24-paced steady 1200 80
