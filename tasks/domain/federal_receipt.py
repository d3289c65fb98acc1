"""The federal centre's receipt of a package (docs/federal-package.md, «Receipt»): reading one,
and — test equipment for the demo and the tests, not a plan stage — the receipt a simulated
federal centre writes after checking a package against its manifest."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from tasks.errors import DataError

__all__ = ["parse_receipt", "receipt_name", "simulated_receipt"]

_STATUSES = ("accepted", "rejected")


def receipt_name(package: str) -> str:
    return f"{package}.receipt.json"


def parse_receipt(data: bytes, package: str, manifest_sha256: str) -> dict[str, Any] | None:
    """The receipt of this package and manifest; None when it answers another manifest (an
    older package of the same name); DataError (Russian reason) when it cannot be read."""
    try:
        receipt = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"квитанция ФЦТ на пакет {package} не читается: {exc}") from exc
    if not isinstance(receipt, dict) or receipt.get("status") not in _STATUSES:
        raise DataError(f"квитанция ФЦТ на пакет {package} без статуса accepted/rejected")
    if receipt.get("package") != package or receipt.get("manifest_sha256") != manifest_sha256:
        return None
    return receipt


def simulated_receipt(
    manifest: Mapping[str, Any],
    manifest_sha256: str,
    present: Mapping[str, tuple[int, str]],
    received_at: datetime,
) -> dict[str, Any]:
    """What a federal centre answers: accepted when every listed file arrived with its size
    and digest, else rejected with the files that did not."""
    problems = [
        {"file": f["path"], "reason": "файл не получен или не совпадает с манифестом"}
        for f in manifest["files"]
        if present.get(f["path"]) != (int(f["size"]), str(f["sha256"]))
    ]
    return {
        "package": manifest["package"],
        "manifest_sha256": manifest_sha256,
        "status": "rejected" if problems else "accepted",
        "received_at": received_at.isoformat(),
        "works": manifest["works"],
        "problems": problems,
    }
