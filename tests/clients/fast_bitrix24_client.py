"""Drives leadgate with fast-bitrix24, unmodified, as a migrating team would.

Usage: python fast_bitrix24_client.py WEBHOOK_URL BAD_WEBHOOK_URL
Prints one JSON object with what the SDK got back; tests/bitrix24_sdk.rs checks it.
"""

import json
import sys

from fast_bitrix24 import Bitrix


def main() -> None:
    webhook, bad_webhook = sys.argv[1], sys.argv[2]
    bitrix = Bitrix(webhook, verbose=False)

    # call() with a list goes through batch, 50 commands per request.
    items = [
        {
            "fields": {
                "TITLE": f"SDK lead {index}",
                "NAME": f"Имя {index}",
                "PHONE": [{"VALUE": f"+7900{index:07d}", "VALUE_TYPE": "WORK"}],
                "UTM_SOURCE": "fast-bitrix24",
            }
        }
        for index in range(73)
    ]
    ids = bitrix.call("crm.lead.add", items)

    # get_all() pages past 50 through batch commands with start=50, 100, ...
    leads = bitrix.get_all(
        "crm.lead.list",
        params={"select": ["ID", "TITLE", "PHONE"], "filter": {"UTM_SOURCE": "fast-bitrix24"}},
    )

    # get_by_ID() batches crm.lead.get with ID=<n>.
    wanted = [int(ids[0]), int(ids[50]), int(ids[72])]
    by_id = bitrix.get_by_ID("crm.lead.get", wanted)

    # A single call() comes back keyed by the SDK's own order key when the
    # result is an object (the same against a real portal).
    def unwrap(result):
        if isinstance(result, dict) and "ID" not in result and len(result) == 1:
            return next(iter(result.values()))
        return result

    single = unwrap(bitrix.call("crm.lead.get", {"ID": ids[5]}))
    updated = unwrap(
        bitrix.call("crm.lead.update", {"ID": ids[5], "fields": {"STATUS_ID": "IN_PROCESS"}})
    )
    after_update = unwrap(bitrix.call("crm.lead.get", {"ID": ids[5]}))

    bad_token_error = None
    try:
        Bitrix(bad_webhook, verbose=False).get_all("crm.lead.list")
    except Exception as error:  # the SDK raises aiohttp's ClientResponseError
        bad_token_error = f"{type(error).__name__}: {error}"

    print(
        json.dumps(
            {
                "ids": [int(value) for value in ids],
                "listed": len(leads),
                "listed_titles": sorted(lead["TITLE"] for lead in leads),
                "first_phone": leads[0]["PHONE"][0]["VALUE"] if leads else None,
                "by_id": {str(key): value["TITLE"] for key, value in by_id.items()},
                "single_title": single["TITLE"],
                "updated": updated,
                "status_after_update": after_update["STATUS_ID"],
                "bad_token_error": bad_token_error,
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
