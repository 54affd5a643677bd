#!/usr/bin/env bash
# Durable SalesMan adds on the PostgreSQL store, with one and with two
# gateway replicas on one database, next to the SQLite store in the same
# run. Each point starts on an empty store (a fresh schema); two replicas
# are driven by two load generators at once, half the connections each,
# and their figures are summed (rps) and maxed (p99). Prints a Markdown
# table for BENCHMARKS.md.
#
#   bench/postgres.sh                                  # 20 s per point, 64 connections
#   POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test SECONDS_PER_POINT=60 bench/postgres.sh
#   WRITERS=2 MAX_BATCH=256 bench/postgres.sh          # the PostgreSQL store's [store] writers, max_batch
set -euo pipefail
cd "$(dirname "$0")/.."

url=${POSTGRES_URL:-${LEADGATE_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}}
seconds=${SECONDS_PER_POINT:-20}
connections=${CONNECTIONS:-64}
cargo build --profile dist --quiet --bin leadgate --example loadgen

. bench/common.sh
schema="lg_bench_$$"

# $work/$1.toml: the SalesMan gateway on port $2 with the [store] section
# read from standard input.
write_store_config() {
  {
    cat <<TOML
[server]
listen = "127.0.0.1:$2"
TOML
    cat
    cat <<TOML
[[employees]]
id = 1
name = "Bench"
login = "bench@example.ru"
role = "admin"
TOML
    salesman_section
  } > "$work/$1.toml"
}

sqlite_store() { printf '[store]\npath = "%s/leads.db"\n' "$work"; }
postgres_store() {
  printf '[store]\nurl = "%s"\nschema = "%s"\nwriters = %s\nmax_batch = %s\n' \
    "$url" "$1" "${WRITERS:-4}" "${MAX_BATCH:-512}"
}

# Prints the JSON of loadgen runs against the ports given, at once, with
# the connections split evenly, combined: rps summed, p99 the worst.
drive() {
  local per=$(( connections / $# )) outputs=() pids=() port
  for port in "$@"; do
    target/dist/examples/loadgen "http://127.0.0.1:$port" "$per" "$seconds" > "$work/out.$port" &
    pids+=($!)
  done
  wait "${pids[@]}"
  for port in "$@"; do outputs+=("$(cat "$work/out.$port")"); done
  python3 - "${outputs[@]}" <<'PY'
import json, sys
runs = [json.loads(arg) for arg in sys.argv[1:]]
print(json.dumps({
    "rps": sum(run["rps"] for run in runs),
    "p50_ms": max(run["p50_ms"] for run in runs),
    "p99_ms": max(run["p99_ms"] for run in runs),
    "errors": sum(run["errors"] for run in runs),
}))
PY
}

row() {
  python3 - "$1" "$2" <<'PY'
import json, sys
result = json.loads(sys.argv[2])
print(f"| {sys.argv[1]} | {result['rps']:.0f} | {result['p50_ms']:.2f} | {result['p99_ms']:.2f} | {result['errors']} |")
PY
}

drop_schema() { psql "$url" -q -c "DROP SCHEMA IF EXISTS $1 CASCADE" >/dev/null 2>&1 || true; }
trap 'drop_schema ${schema}_1; drop_schema ${schema}_2; kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

echo "| store | durable adds/s | p50 ms | p99 ms | errors |"
echo "|---|---:|---:|---:|---:|"

sqlite_store | write_store_config sqlite 18080
target/dist/leadgate serve --config "$work/sqlite.toml" >"$work/sqlite.log" 2>&1 & gateway=$!
wait_port 18080
row "SQLite, 1 gateway" "$(drive 18080)"
kill -INT "$gateway"; wait "$gateway" 2>/dev/null || true

postgres_store "${schema}_1" | write_store_config pg1 18080
target/dist/leadgate serve --config "$work/pg1.toml" >"$work/pg1.log" 2>&1 & gateway=$!
wait_port 18080
row "PostgreSQL, 1 replica" "$(drive 18080)"
kill -INT "$gateway"; wait "$gateway" 2>/dev/null || true

postgres_store "${schema}_2" | write_store_config pg2a 18080
postgres_store "${schema}_2" | write_store_config pg2b 18082
target/dist/leadgate serve --config "$work/pg2a.toml" >"$work/pg2a.log" 2>&1 & first=$!
wait_port 18080
target/dist/leadgate serve --config "$work/pg2b.toml" >"$work/pg2b.log" 2>&1 & second=$!
wait_port 18082
row "PostgreSQL, 2 replicas" "$(drive 18080 18082)"
kill -INT "$first" "$second"; wait "$first" "$second" 2>/dev/null || true
