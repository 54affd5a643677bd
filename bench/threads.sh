#!/usr/bin/env bash
# Where both cores go, thread by thread: the bare server and the gateway
# (durable SalesMan adds) under the same load, each measured over the middle
# of its run. For every thread of the server and of the load generator it
# prints CPU time and context switches (voluntary: it blocked or parked;
# involuntary: it was preempted) per request, and for the whole machine the
# context switches per request and the share of both cores left idle. The
# closed loop's idle time and its switches are what separate the two
# servers beyond CPU per request (BENCHMARKS.md, tenth session).
#
#   bench/threads.sh                          # 64 connections, 8 s a run
#   CONNECTIONS=256 SECONDS_PER_RUN=10 bench/threads.sh
#   LEADGATE=path/to/other/leadgate bench/threads.sh   # another build
#   LEADGATE_TITLE="bound: row only" LEADGATE=... bench/threads.sh
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${SECONDS_PER_RUN:-8}
connections=${CONNECTIONS:-64}
leadgate=$(realpath "${LEADGATE:-target/release/leadgate}")
cargo build --release --quiet --bin leadgate --example loadgen --example bare_server

. bench/common.sh
write_salesman_config

# One line per thread of process $1: "name cpu-ticks voluntary involuntary".
threads_of() {
  for task in /proc/"$1"/task/*; do
    printf '%s %s %s %s\n' "$(tr ' ' '_' <"$task/comm")" \
      "$(awk '{print $14 + $15}' "$task/stat")" \
      "$(awk '/^voluntary_ctxt_switches/ {print $2}' "$task/status")" \
      "$(awk '/^nonvoluntary_ctxt_switches/ {print $2}' "$task/status")"
  done
}

# The machine: "idle-ticks all-ticks context-switches" from /proc/stat.
machine() {
  awk '/^cpu / {idle = $5 + $6; for (i = 2; i <= NF; i++) all += $i} /^ctxt/ {c = $2}
       END {print idle, all, c}' /proc/stat
}

# Loads server $1 (pid) on port $2 and prints its table under title $3.
measure() {
  target/release/examples/loadgen "http://127.0.0.1:$2" "$connections" "$seconds" >"$work/load.json" &
  local load=$!
  # The middle of the run, away from start-up and the end.
  sleep 2
  local window=$((seconds - 3))
  threads_of "$1" >"$work/server.before"; threads_of "$load" >"$work/load.before"; machine >"$work/machine.before"
  sleep "$window"
  threads_of "$1" >"$work/server.after"; threads_of "$load" >"$work/load.after"; machine >"$work/machine.after"
  wait "$load"
  python3 - "$work" "$window" "$3" <<'PY'
import json, os, sys
work, window, title = sys.argv[1], int(sys.argv[2]), sys.argv[3]
tick_us = 1e6 / os.sysconf("SC_CLK_TCK")
load = json.load(open(f"{work}/load.json"))
# The load generator's rate is over its whole run, taken as the window's:
# the two seconds on either side are the same closed loop.
requests = load["rps"] * window

def threads(name):
    # Summed by thread name: a runtime's workers share one.
    def read(path):
        rows = {}
        for line in open(path):
            comm, *numbers = line.split()
            total = rows.setdefault(comm, [0, 0, 0, 0])
            for i, value in enumerate(map(int, numbers)):
                total[i] += value
            total[3] += 1
        return rows
    before, after = read(f"{work}/{name}.before"), read(f"{work}/{name}.after")
    for comm, end in sorted(after.items()):
        start = before.get(comm, [0, 0, 0, 0])
        cpu, voluntary, involuntary = (end[i] - start[i] for i in range(3))
        if cpu or voluntary or involuntary:
            yield comm, end[3], cpu * tick_us / requests, voluntary / requests, involuntary / requests

print(f"{title}: {load['rps']:.0f} requests/s at {load['connections']} connections")
print()
print("| process | thread | count | CPU µs per request | voluntary switches per request | involuntary switches per request |")
print("|---|---|---:|---:|---:|---:|")
total = 0.0
for process, name in (("server", "server"), ("load generator", "load")):
    for comm, count, cpu, voluntary, involuntary in threads(name):
        total += cpu
        print(f"| {process} | {comm} | {count} | {cpu:.1f} | {voluntary:.3f} | {involuntary:.3f} |")
idle0, all0, switches0 = map(int, open(f"{work}/machine.before").read().split())
idle1, all1, switches1 = map(int, open(f"{work}/machine.after").read().split())
print()
print(f"CPU per request, both processes: {total:.1f} µs; machine idle (with I/O wait): "
      f"{100 * (idle1 - idle0) / max(all1 - all0, 1):.0f}%; "
      f"context switches per request, whole machine: {(switches1 - switches0) / requests:.2f}")
print()
PY
}

target/release/examples/bare_server 127.0.0.1:18081 & bare=$!
wait_port 18081
measure "$bare" 18081 "bare server"
kill "$bare"; wait "$bare" 2>/dev/null || true

"$leadgate" serve --config "$work/bench.toml" >"$work/gateway.log" 2>&1 & gateway=$!
wait_port 18080
measure "$gateway" 18080 "${LEADGATE_TITLE:-leadgate, durable SalesMan adds}"
kill -INT "$gateway"; wait "$gateway" 2>/dev/null || true
