"""Drives leadgate's UIS endpoint the way CoMagic/UIS scripts do.

Raw `requests` calls in the SDKs' style (login.user first, then calls with
params.access_token, reading result.data), and the PyPI SDK
`comagic-data-api-sdk` itself, unmodified but for its base URL, which it
hard-codes to dataapi.uiscom.ru and lets a caller replace.

Usage: python comagic_client.py BASE_URL LOGIN PASSWORD
Prints one JSON object with what came back; tests/uis_sdk.rs checks it.
"""

import json
import sys
import time
from datetime import datetime, timedelta

import requests
from comagic.client import Comagic
from comagic.errors import ComagicException


def call(session, url, method, params):
    body = {"jsonrpc": "2.0", "id": f"req_{method}_{time.time()}", "method": method, "params": params}
    answer = session.post(url, json=body).json()
    if "error" in answer:
        raise RuntimeError(json.dumps(answer["error"], ensure_ascii=False))
    assert answer["id"] == body["id"], "the id comes back as sent"
    result = answer["result"]
    return result["data"] if "data" in result else result


def main() -> None:
    base, login, password = sys.argv[1], sys.argv[2], sys.argv[3]
    url = base + "/v2.0"
    session = requests.Session()
    session.headers.update({"Content-Type": "application/json"})

    session_key = call(session, url, "login.user", {"login": login, "password": password})
    token = session_key["access_token"]

    funnels = call(session, url, "get.sales_funnel", {
        "access_token": token,
        "filter": {"filters": [{"field": "name", "operator": "like", "value": "Лид%"}], "condition": "and"},
        "sort": [{"field": "name", "order": "asc"}],
        "fields": ["ext_id", "name", "stages"],
    })

    now = datetime.now()
    uploaded = call(session, url, "upload.offline_messages", {
        "access_token": token,
        "offline_messages": [
            {"name": f"SDK {n}", "phone": f"+7900123{n:04d}", "message": "from python", "site_id": 1, "ext_id": f"py-{n}",
             "date_time": (now - timedelta(minutes=n)).strftime("%Y-%m-%d %H:%M:%S")}
            for n in range(12)
        ],
    })

    # The SDK itself: its own request ids, default fields and parsing.
    sdk = Comagic(token=token, uis=True)
    sdk.API_URL = url
    report = list(sdk.get_offline_messages_report(now - timedelta(days=1), now + timedelta(minutes=1)))

    bad_token_error = None
    try:
        broken = Comagic(token="not-a-key", uis=True)
        broken.API_URL = url
        list(broken.get_offline_messages_report(now - timedelta(days=1), now))
    except ComagicException as error:
        bad_token_error = str(error)

    call(session, url, "logout.user", {"access_token": token})
    after_logout = None
    try:
        call(session, url, "get.sales_funnel", {"access_token": token})
    except RuntimeError as error:
        after_logout = json.loads(str(error))

    print(json.dumps({
        "session_key": {key: type(value).__name__ for key, value in session_key.items()},
        "funnels": [funnel["ext_id"] for funnel in funnels],
        "stages": len(funnels[0]["stages"]) if funnels else 0,
        "uploaded": [item["id"] for item in uploaded],
        "report_ids": sorted(message.id for message in report),
        "report_names": sorted(message.visitor_name for message in report),
        "report_status": sorted({message.status for message in report}),
        "report_date_type": type(report[0].date_time).__name__ if report else None,
        "bad_token_error": bad_token_error,
        "after_logout": after_logout,
    }, ensure_ascii=False, default=str))


if __name__ == "__main__":
    main()
