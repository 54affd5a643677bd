#!/usr/bin/env bash
# An old site's lead form, as PHP's curl posts it to SalesMan: form-encoded,
# credentials in `login` and `apikey`. The gateway answers as SalesMan does
# ({"result":{"text":"Success","id":...}}); `action=info` reads it back.
#
#   examples/salesman_form.sh [http://127.0.0.1:8080]
set -euo pipefail
base=${1:-http://127.0.0.1:8080}
auth=(--data-urlencode "login=demo@example.ru" --data-urlencode "apikey=DEMO-salesman-apikey-change-me")

added=$(curl -sS "$base/developer/v1/leads" "${auth[@]}" \
  --data-urlencode "action=add" \
  --data-urlencode "title=Заявка с сайта" \
  --data-urlencode "name=Анна Петрова" \
  --data-urlencode "phone=8 (900) 111-22-33" \
  --data-urlencode "email=anna@example.ru" \
  --data-urlencode "description=Перезвоните после 18:00" \
  --data-urlencode "utm_source=yandex")
echo "add:  $added"
id=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["result"]["id"])' "$added")
echo "info: $(curl -sS "$base/developer/v1/leads" "${auth[@]}" --data-urlencode action=info --data-urlencode "id=$id")"
