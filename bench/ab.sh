#!/usr/bin/env bash
# Compares two gateway builds on durable SalesMan adds, for changes worth a
# few percent on a shared machine whose speed drifts by more than that from
# minute to minute. Each round runs A, B, B, A (a fresh store every run, so
# neither inherits the other's file), and scores B/A as the ratio of the
# sums; the geometric mean over the rounds is the result.
#
#   bench/ab.sh path/to/leadgate-a path/to/leadgate-b            # 4 rounds of 5 s runs
#   ROUNDS=6 SECONDS_PER_RUN=8 CONNECTIONS=16 bench/ab.sh A B
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: bench/ab.sh LEADGATE_A LEADGATE_B" >&2; exit 2; }
# Resolved before leaving the caller's directory.
builds=("$(realpath "$1")" "$(realpath "$2")")
cd "$(dirname "$0")/.."
rounds=${ROUNDS:-4}
seconds=${SECONDS_PER_RUN:-5}
connections=${CONNECTIONS:-64}
cargo build --release --quiet --example loadgen

. bench/common.sh
write_salesman_config

# Prints the adds/s of one run of build $1 on an empty store.
run_once() {
  rm -f "$work"/leads.db*
  "$1" serve --config "$work/bench.toml" >"$work/gateway.log" 2>&1 & local gateway=$!
  wait_port 18080
  target/release/examples/loadgen http://127.0.0.1:18080 "$connections" "$seconds" |
    python3 -c "import json, sys; print(round(json.load(sys.stdin)['rps']))"
  kill -INT "$gateway"; wait "$gateway" 2>/dev/null || true
}

ratios=()
for round in $(seq "$rounds"); do
  a1=$(run_once "${builds[0]}"); b1=$(run_once "${builds[1]}")
  b2=$(run_once "${builds[1]}"); a2=$(run_once "${builds[0]}")
  ratio=$(python3 -c "print(f'{($b1 + $b2) / ($a1 + $a2):.3f}')")
  echo "round $round: A $a1 $a2, B $b1 $b2 adds/s, B/A $ratio"
  ratios+=("$ratio")
done
python3 - "${ratios[@]}" <<'PY'
import math, sys
ratios = [float(r) for r in sys.argv[1:]]
print(f"B/A geometric mean over {len(ratios)} rounds: {math.exp(sum(map(math.log, ratios)) / len(ratios)):.3f}")
PY
