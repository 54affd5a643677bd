#!/usr/bin/env bash
# The PostgreSQL store's insert statements without the gateway: pgbench
# replays what one batch does (contact locks, the look-up of earlier leads
# by contact, the multi-row INSERT of leads and their contacts, commit)
# into a schema filled by a short load of the gateway, then the same with
# one part left out at a time. Shows how much of the database's CPU each
# part takes (BENCHMARKS.md, "Where the bound is").
#
#   bench/postgres_statements.sh                  # 20 s per variant
#   POSTGRES_URL=... SECONDS_PER_POINT=30 LEADS=350000 bench/postgres_statements.sh
set -euo pipefail
cd "$(dirname "$0")/.."

url=${POSTGRES_URL:-${LEADGATE_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}}
seconds=${SECONDS_PER_POINT:-20}
leads=${LEADS:-350000}
cargo build --profile dist --quiet --bin leadgate --example loadgen

. bench/common.sh
schema="lg_bench_stmt_$$"
trap 'psql "$url" -q -c "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1 || true; kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

# The gateway's own schema and leads: SalesMan adds until `leads` are in.
{
  printf '[server]\nlisten = "127.0.0.1:18095"\n[store]\nurl = "%s"\nschema = "%s"\n' "$url" "$schema"
  printf '[[employees]]\nid = 1\nname = "Bench"\nlogin = "bench@example.ru"\nrole = "admin"\n'
  salesman_section
} > "$work/fill.toml"
target/dist/leadgate serve --config "$work/fill.toml" >"$work/fill.log" 2>&1 & gateway=$!
wait_port 18095
while :; do
  target/dist/examples/loadgen http://127.0.0.1:18095 64 5 >/dev/null
  stored=$(psql "$url" -Atc "SELECT count(*) FROM $schema.leads")
  [ "$stored" -ge "$leads" ] && break
done
kill -INT "$gateway"; wait "$gateway" 2>/dev/null || true

psql "$url" -q <<SQL
SET search_path = $schema;
CREATE SEQUENCE bench_ids START 100000000;
CREATE TABLE bench_template AS
  SELECT created_at, updated_at, stage, assigned_to, created_by, has_email, has_phone, doc::text AS doc
  FROM leads ORDER BY id DESC LIMIT 64;
VACUUM ANALYZE leads; VACUUM ANALYZE lead_contacts;
SQL

# $1 leads per transaction; $2 "lookup" or "no-lookup"; $3 the cast of doc.
script() {
  cat <<SQL
BEGIN;
SELECT pg_advisory_xact_lock(k) FROM (SELECT (random() * 1e15)::bigint AS k FROM generate_series(1, $(( $1 * 2 )))) AS keys ORDER BY k;
SQL
  if [ "$2" = lookup ]; then cat <<SQL
SELECT count(*) FROM (
  SELECT 'phone'::text AS kind, '+7900' || (random() * 1e12)::bigint::text AS value FROM generate_series(1, $1)
  UNION ALL SELECT 'email', 'x' || (random() * 1e12)::bigint::text || '@example.ru' FROM generate_series(1, $1)) AS q
CROSS JOIN LATERAL (
  SELECT c.lead_id, l.assigned_to FROM $schema.lead_contacts c JOIN $schema.leads l ON l.id = c.lead_id
  WHERE c.kind = q.kind AND c.value = q.value AND l.assigned_to = ANY('{1}'::bigint[])
  ORDER BY c.lead_id DESC LIMIT 1) AS newest;
SQL
  fi
  cat <<SQL
WITH new_leads AS (
  INSERT INTO $schema.leads (id, created_at, updated_at, stage, assigned_to, created_by, has_email, has_phone, doc)
  SELECT nextval('$schema.bench_ids'), created_at, updated_at, stage, assigned_to, created_by, has_email, has_phone, doc::$3
  FROM (SELECT * FROM $schema.bench_template LIMIT $1) AS template
  RETURNING id)
INSERT INTO $schema.lead_contacts
  SELECT 'phone', '+7900' || id, id FROM new_leads
  UNION ALL SELECT 'email', 'l' || id || '@example.ru', id FROM new_leads;
COMMIT;
SQL
}

# $1 label, $2 clients, $3 leads per transaction, $4 lookup, $5 cast.
point() {
  script "$3" "$4" "$5" > "$work/point.sql"
  local tps
  tps=$(pgbench -n -c "$2" -j 2 -T "$seconds" -f "$work/point.sql" "$url" 2>/dev/null | sed -n 's/^tps = \([0-9.]*\).*/\1/p')
  python3 -c "import sys; print(f'| {sys.argv[1]} | {float(sys.argv[2]) * int(sys.argv[3]):.0f} |')" "$1" "$tps" "$3"
}

echo "| what a transaction does | leads/s |"
echo "|---|---:|"
point "contact locks and look-up, the multi-row INSERT of leads and contacts, commit" 8 16 lookup jsonb
point "the same without the look-up of earlier leads by contact" 8 16 no-lookup jsonb
point "the same as the first, 64 leads per transaction, 4 clients" 4 64 lookup jsonb
psql "$url" -q -c "SET search_path = $schema; DROP INDEX leads_updated_at, leads_stage, leads_assigned_to"
point "the same as the first without three of the secondary indexes (updated_at, stage, assigned_to)" 8 16 lookup jsonb
psql "$url" -q -c "ALTER TABLE $schema.leads ALTER COLUMN doc TYPE json USING doc::json"
point "the same as the fourth with a json document instead of jsonb" 8 16 lookup json
