# Shared by the bench scripts (sourced, not run): a scratch directory that
# is removed with every server started from the script, the SalesMan
# configuration the intake benchmarks use, and small helpers.

work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

# $work/bench.toml: the gateway on 127.0.0.1:$1 with its store in the
# scratch directory and one employee, followed by the dialect sections read
# from standard input.
write_config() {
  {
    cat <<TOML
[server]
listen = "127.0.0.1:$1"
[store]
path = "$work/leads.db"
[[employees]]
id = 1
name = "Bench"
login = "bench@example.ru"
role = "admin"
TOML
    cat
  } > "$work/bench.toml"
}

# One SalesMan key mapped to the employee every lead is assigned to.
salesman_section() {
  cat <<TOML
[salesman]
default_assignee = "bench@example.ru"
[[salesman.credentials]]
apikey = "bench-apikey"
login = "bench@example.ru"
TOML
}

# The Bitrix24 webhook bench/loadgen.rs calls, for the same employee.
bitrix24_section() {
  cat <<TOML
[[bitrix24.webhooks]]
user_id = 1
code = "bench-webhook"
login = "bench@example.ru"
TOML
}

# A LiveTex login (HTTP Basic) and a UIS key, for the same employee.
livetex_section() {
  cat <<TOML
[livetex]
require_conversation = false
[[livetex.credentials]]
login = "bench@example.ru"
password = "bench-password"
TOML
}

uis_section() {
  cat <<TOML
[uis]
day_limit = 100000000
minute_limit = 100000000
[[uis.keys]]
key = "bench-uis-key"
login = "bench@example.ru"
TOML
}

write_salesman_config() {
  salesman_section | write_config 18080
}

# wait_port PORT [SECONDS]: waits for the gateway to listen (10 s by
# default; a store of ten million leads takes about 13 s to open).
wait_port() {
  for _ in $(seq $(( ${2:-10} * 10 ))); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "port $1 did not open" >&2; return 1
}

peak_rss_mb() { awk '/VmHWM/ {printf "%.1f", $2/1024}' "/proc/$1/status"; }

# How many leads the store in the scratch directory holds.
stored() {
  python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from leads').fetchone()[0])" "$work/leads.db"
}

# Adds leads through Bitrix24 `batch` (50 a request, scattered contacts) to
# the gateway on port 18080 until the store holds at least $1.
fill_to() {
  while [ "$(stored)" -lt "$1" ]; do
    LOADGEN_CONTACTS=random LOADGEN_MODE=bitrix24-batch \
      "${CARGO_TARGET_DIR:-target}/dist/examples/loadgen" http://127.0.0.1:18080 16 5 >/dev/null
  done
}
