#!/usr/bin/env bash
# Three leads in one Bitrix24 `batch` call through an incoming webhook, as
# SDKs such as fast-bitrix24 send them, then the newest leads listed with
# `crm.lead.list`. The answers have Bitrix24's envelope (`result`, `time`).
#
#   examples/bitrix24_batch.sh [http://127.0.0.1:8080]
set -euo pipefail
base=${1:-http://127.0.0.1:8080}
hook="$base/rest/1/DEMO-webhook-code-change-me"

curl -sS "$hook/batch.json" -H 'Content-Type: application/json' -d '{
  "halt": 0,
  "cmd": {
    "first":  "crm.lead.add?fields[TITLE]=Звонок&fields[NAME]=Иван&fields[PHONE][0][VALUE]=+79001112233&fields[PHONE][0][VALUE_TYPE]=WORK",
    "second": "crm.lead.add?fields[TITLE]=Форма&fields[NAME]=Мария&fields[EMAIL][0][VALUE]=maria@example.ru&fields[EMAIL][0][VALUE_TYPE]=WORK",
    "third":  "crm.lead.add?fields[TITLE]=Чат&fields[NAME]=Олег&fields[SOURCE_ID]=WEB"
  }
}'
echo
curl -sS "$hook/crm.lead.list.json" -H 'Content-Type: application/json' \
  -d '{"order": {"ID": "DESC"}, "select": ["ID", "TITLE", "NAME", "PHONE", "EMAIL"]}'
echo
