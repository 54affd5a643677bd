#!/usr/bin/env bash
# Compares two gateway builds on durable SalesMan adds, for changes worth a
# few percent on a shared machine whose speed drifts by more than that from
# minute to minute. Each round runs A, B, B, A (a fresh store every run, so
# neither inherits the other's file), and scores B/A as the ratio of the
# sums; the geometric mean over the rounds is the result. The gateway's CPU
# time per add is compared the same way.
#
# Work a build leaves until it closes (a checkpoint) falls outside the run
# and is not counted: compare changes that defer work with SECONDS_PER_RUN
# long enough that the deferred share is small.
#
# STORE_A and STORE_B name store files each build's runs start from (copied
# afresh for every run) instead of an empty store: bench/fill_store.sh makes
# one, and a build with a newer schema migrates its own copy once beforehand.
#
# EXTRA_A and EXTRA_B are TOML appended to each side's settings, LOG_A and
# LOG_B each side's LEADGATE_LOG: one build against itself with a feature
# on and off (the admin listener's metrics, the access log).
#
#   bench/ab.sh path/to/leadgate-a path/to/leadgate-b            # 4 rounds of 5 s runs
#   ROUNDS=6 SECONDS_PER_RUN=8 CONNECTIONS=16 bench/ab.sh A B
#   STORE_A=a.db STORE_B=b.db SECONDS_PER_RUN=20 bench/ab.sh A B
#   LOG_A=warn EXTRA_B=$'[admin]\nlisten = "127.0.0.1:19090"' LOG_B=info bench/ab.sh L L
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: bench/ab.sh LEADGATE_A LEADGATE_B" >&2; exit 2; }
# Resolved before leaving the caller's directory.
builds=("$(realpath "$1")" "$(realpath "$2")")
stores=("${STORE_A:+$(realpath "$STORE_A")}" "${STORE_B:+$(realpath "$STORE_B")}")
cd "$(dirname "$0")/.."
rounds=${ROUNDS:-4}
seconds=${SECONDS_PER_RUN:-5}
connections=${CONNECTIONS:-64}
cargo build --profile dist --quiet --example loadgen

. bench/common.sh
write_salesman_config
extras=("${EXTRA_A:-}" "${EXTRA_B:-}")
logs=("${LOG_A:-info}" "${LOG_B:-info}")
for side in 0 1; do
  { cat "$work/bench.toml"; printf '\n%s\n' "${extras[$side]}"; } > "$work/bench.$side.toml"
done

# The gateway's CPU time so far (user + system, all threads), in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# Prints "adds/s CPU-µs-per-add" of one run of side $1's build on a copy of
# its store file (an empty store when none is given).
# The CPU per add is the steadier figure: it moves less with the machine's
# minute-to-minute speed than the throughput does, so changes worth a few
# percent show in it before they show in adds/s.
run_once() {
  rm -f "$work"/leads.db*
  if [ -n "${stores[$1]}" ]; then cp "${stores[$1]}" "$work/leads.db"; fi
  LEADGATE_LOG=${logs[$1]} "${builds[$1]}" serve --config "$work/bench.$1.toml" >"$work/gateway.log" 2>&1 & local gateway=$!
  wait_port 18080
  local before; before=$(cpu_ticks "$gateway")
  local result; result=$(target/dist/examples/loadgen http://127.0.0.1:18080 "$connections" "$seconds")
  local after; after=$(cpu_ticks "$gateway")
  # Stopped before the figures are printed: the caller starts the next run
  # as soon as it has read them, and the port must be free by then.
  kill -INT "$gateway"; wait "$gateway" 2>/dev/null || true
  python3 -c "
import json, os, sys
result = json.loads(sys.argv[1])
seconds = (int(sys.argv[3]) - int(sys.argv[2])) / os.sysconf('SC_CLK_TCK')
print(round(result['rps']), f\"{seconds * 1e6 / max(result['requests'], 1):.1f}\")" "$result" "$before" "$after"
}

ratios=(); cpu_ratios=()
for round in $(seq "$rounds"); do
  read -r a1 ca1 < <(run_once 0)
  read -r b1 cb1 < <(run_once 1)
  read -r b2 cb2 < <(run_once 1)
  read -r a2 ca2 < <(run_once 0)
  ratio=$(python3 -c "print(f'{($b1 + $b2) / ($a1 + $a2):.3f}')")
  cpu_ratio=$(python3 -c "print(f'{($cb1 + $cb2) / ($ca1 + $ca2):.3f}')")
  echo "round $round: A $a1 $a2, B $b1 $b2 adds/s, B/A $ratio;" \
    "CPU per add A $ca1 $ca2, B $cb1 $cb2 µs, B/A $cpu_ratio"
  ratios+=("$ratio"); cpu_ratios+=("$cpu_ratio")
done
python3 - "${#ratios[@]}" "${ratios[@]}" "${cpu_ratios[@]}" <<'PY'
import math, sys
n = int(sys.argv[1])
mean = lambda values: math.exp(sum(math.log(float(v)) for v in values) / len(values))
print(f"B/A geometric mean over {n} rounds: {mean(sys.argv[2:2 + n]):.3f} adds/s, "
      f"{mean(sys.argv[2 + n:]):.3f} gateway CPU per add (below 1 is cheaper)")
PY
