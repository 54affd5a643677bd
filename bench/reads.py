#!/usr/bin/env python3
"""Times every documented read of every dialect against a running gateway.

    bench/reads.py BASE_URL STORE_PATH GATEWAY_PID [REPEAT]

Picks real values (an id, a phone, a title fragment, the creation window)
from the store file, sends each read REPEAT times over one keep-alive
connection, and prints a Markdown row per read: p50, p99 and max latency,
how the answer looked, and the gateway's peak RSS (VmHWM) after that read,
so the read that raised it shows. Uses the credentials bench/common.sh
configures. Standard library only.
"""
import http.client
import json
import sqlite3
import statistics
import sys
import time
import urllib.parse
from base64 import b64encode

base, store_path, pid = sys.argv[1], sys.argv[2], int(sys.argv[3])
repeat = int(sys.argv[4]) if len(sys.argv) > 4 else 20
url = urllib.parse.urlsplit(base)


def peak_rss_mb():
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM"):
                return int(line.split()[1]) / 1024
    return float("nan")


db = sqlite3.connect(f"file:{store_path}?mode=ro", uri=True)
count, first_id, last_id = db.execute("SELECT COUNT(*), MIN(id), MAX(id) FROM leads").fetchone()
middle = db.execute("SELECT id, doc, created_at FROM leads WHERE id >= ? ORDER BY id LIMIT 1",
                    ((first_id + last_id) // 2,)).fetchone()
doc = json.loads(middle[1])
phone = (doc.get("phones") or [{"value": "+79000000000"}])[0]["value"]
title = doc.get("title") or doc.get("name") or "load"
fragment = title[len(title) // 2:][:6] if len(title) > 8 else title
day = time.strftime("%Y-%m-%d", time.gmtime(middle[2] / 1e6))
first_day = time.strftime("%Y-%m-%d", time.gmtime(db.execute("SELECT MIN(created_at) FROM leads").fetchone()[0] / 1e6))
months_ago = time.strftime("%Y-%m-%d", time.gmtime(middle[2] / 1e6 - 88 * 86400))
db.close()

connection = http.client.HTTPConnection(url.hostname, url.port, timeout=600)


def request(method, path, body=None, headers=None):
    connection.request(method, path, body=body, headers=headers or {})
    response = connection.getresponse()
    return response.status, response.read()


salesman_auth = "login=bench%40example.ru&apikey=bench-apikey"
hook = "/rest/1/bench-webhook"
basic = {"Authorization": "Basic " + b64encode(b"bench@example.ru:bench-password").decode()}


def salesman(query):
    return lambda: request("GET", f"/developer/v1/leads?{salesman_auth}&{query}")


def bitrix24(method, query):
    return lambda: request("GET", f"{hook}/{method}?{query}")


def livetex(path):
    return lambda: request("GET", path, headers=basic)


def uis(method, params):
    params = dict(params, access_token="bench-uis-key")
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
    return lambda: request("POST", "/v2.0", body, {"Content-Type": "application/json"})


quote = urllib.parse.quote
reads = [
    ("SalesMan info by id", salesman(f"action=info&id={middle[0]}")),
    ("SalesMan list, first page", salesman("action=list")),
    ("SalesMan list, page 2000", salesman("action=list&offset=2000")),
    ("SalesMan stat", salesman("action=stat")),
    ("Bitrix24 crm.lead.get", bitrix24("crm.lead.get", f"id={middle[0]}")),
    ("Bitrix24 crm.lead.list, first page", bitrix24("crm.lead.list", "")),
    ("Bitrix24 crm.lead.list start=500000", bitrix24("crm.lead.list", "start=500000")),
    ("Bitrix24 crm.lead.list filter[PHONE]", bitrix24("crm.lead.list", f"filter[PHONE]={quote(phone)}")),
    ("Bitrix24 crm.lead.list filter[%TITLE]", bitrix24("crm.lead.list", f"filter[%25TITLE]={quote(fragment)}")),
    ("Bitrix24 crm.lead.list filter[>DATE_CREATE] order[ID]=DESC", bitrix24("crm.lead.list", f"filter[%3EDATE_CREATE]={day}&order[ID]=DESC")),
    ("LiveTex show", livetex(f"/v2/leads/show?id={middle[0]}")),
    ("LiveTex list", livetex("/v2/leads/list?limit=100")),
    ("LiveTex list q=result=missed", livetex("/v2/leads/list?q=" + quote("result=missed"))),
    ("LiveTex list q=phone_exists=true;sort by created_at desc", livetex("/v2/leads/list?q=" + quote("phone_exists=true") + "&sort=created_at:d&limit=100")),
    ("UIS get.sales_funnel", uis("get.sales_funnel", {})),
    ("LiveTex list q=text (substring)", livetex("/v2/leads/list?q=" + quote(f"text={fragment}"))),
    ("UIS get.offline_messages_report, one day", uis("get.offline_messages_report", {"date_from": f"{day} 00:00:00", "date_till": f"{day} 23:59:59", "limit": 100})),
    ("UIS get.offline_messages_report, 3 months, 10 000 rows", uis("get.offline_messages_report", {"date_from": f"{months_ago} 00:00:00", "date_till": f"{day} 23:59:59", "limit": 10000})),
    ("UIS get.offline_messages_report, 3 months, sorted by phone", uis("get.offline_messages_report", {"date_from": f"{months_ago} 00:00:00", "date_till": f"{day} 23:59:59", "limit": 100, "sort": [{"field": "visitor_phone_number", "order": "desc"}]})),
]

print(f"{count} leads in the store; phone {phone!r}, title fragment {fragment!r}, day {day}")
print()
print("| read | runs | p50 ms | p99 ms | max ms | answer | peak RSS after, MB |")
print("|---|---:|---:|---:|---:|---|---:|")
for name, send in reads:
    times, answer = [], ""
    for _ in range(repeat):
        started = time.perf_counter()
        try:
            status, body = send()
        except Exception as error:  # a read that kills the connection is a finding
            answer = f"failed: {error}"
            connection.close()
            break
        times.append((time.perf_counter() - started) * 1000)
        answer = f"HTTP {status}, {len(body)} bytes"
        # UIS answers errors with HTTP 200; show them as errors.
        if b'"error"' in body[:200]:
            try:
                error = json.loads(body).get("error", {})
                answer += f", error {error.get('data', {}).get('mnemonic', error) if isinstance(error, dict) else error}"
            except ValueError:
                pass
        if times[-1] > 10_000:
            break
    times.sort()
    p = lambda q: times[min(len(times) - 1, int(q * len(times)))] if times else float("nan")
    print(f"| {name} | {len(times)} | {statistics.median(times) if times else float('nan'):.1f} "
          f"| {p(0.99):.1f} | {max(times) if times else float('nan'):.1f} | {answer} | {peak_rss_mb():.0f} |",
          flush=True)
