"""The coordinator's wording in Prefect artifacts: statuses in Russian, instants in the region's
local time with the zone named, and cells of plain text — never JSON or a Python repr.

Pure: the task layer (`tasks/artifacts.py`) adds the keys and creates the artifacts."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

__all__ = [
    "EMPTY",
    "STATUS_RU",
    "local_time_text",
    "markdown_table",
    "status_ru",
    "summary_rows",
    "value_text",
]

EMPTY = "—"

# The one table of the statuses artifacts show. Neuter short forms, so that they read right
# after a file, a page, a discrepancy, a notice or a stage alike. The works' outcomes (зачет,
# незачет, …) are results, not statuses: they keep their tables in `tasks.domain.inform` and
# `tasks.domain.verify` ("failed" there is «незачет», here «ошибка»).
STATUS_RU: dict[str, str] = {
    # stages and runs
    "completed": "выполнено",
    "waiting": "ожидание",
    "skipped": "пропущено",
    "blocked": "заблокировано",
    "failed": "ошибка",
    "error": "сбой обработки",
    "not_built": "не запускался",
    # files, pages, receipts
    "accepted": "принято",
    "rejected": "отклонено",
    "needs_verification": "на верификацию",
    "late": "срок истёк",
    # mail and notices
    "sent": "отправлено",
    "already_sent": "уже отправлялось",
    "no_address": "нет адреса",
    "automation": "передано автоматизации Prefect",
    # discrepancies, gates, queues
    "open": "открыто",
    "resolved": "устранено",
    "gone": "снято при повторной выверке",
    "critical": "критическое",
    "warning": "предупреждение",
    # the publication of the topics
    "published": "опубликовано",
    "already_published": "уже опубликовано ранее",
    "too_early": "рано: ничего не сделано",
    "partial": "опубликовано не для всех поясов",
}


def status_ru(status: str) -> str:
    """The Russian word for a status; an unknown one is shown as it is (a code)."""
    return STATUS_RU.get(status, status)


def local_time_text(
    moment: datetime, zone: str, *, seconds: bool = False, deadline: bool = False
) -> str:
    """'06.12.2017 09:45 (Asia/Novokuznetsk, UTC+07:00)': an aware instant in `zone`. A
    `deadline` at local midnight reads as the plan writes it: '22.11.2017 24:00 (…)'."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive instant {moment.isoformat()}: its zone is unknown")
    local = moment.astimezone(ZoneInfo(zone))
    offset = local.strftime("%z")  # '+0700'
    where = f"({zone}, UTC{offset[:3]}:{offset[3:]})"
    if deadline and local.time() == time(0, 0):
        return f"{local - timedelta(days=1):%d.%m.%Y} 24:00 {where}"
    clock = "%d.%m.%Y %H:%M:%S" if seconds else "%d.%m.%Y %H:%M"
    return f"{local.strftime(clock)} {where}"


def _instant(text: str) -> datetime | None:
    """An ISO instant with its offset ('2017-12-06T09:45:00+07:00'), else None."""
    if "T" not in text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.utcoffset() is not None else None


def value_text(value: Any, zone: str | None = None) -> str:
    """One cell as the coordinator reads it: numbers with a decimal comma, «да»/«нет»,
    statuses in Russian, instants in `zone` (UTC when none is given, named either way),
    lists joined by commas, mappings as «код: значение; …»; nothing is left as JSON."""
    if value is None:
        return EMPTY
    if isinstance(value, bool):
        return "да" if value else "нет"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.2f}".rstrip("0").rstrip(".").replace(".", ",")
    if isinstance(value, datetime):
        return local_time_text(value, zone or "UTC")
    if isinstance(value, str):
        moment = _instant(value)
        if moment is not None:
            return local_time_text(moment, zone or "UTC")
        return status_ru(value) if value else EMPTY
    if isinstance(value, Mapping):
        parts = [f"{key}: {value_text(item, zone)}" for key, item in value.items()]
        return "; ".join(parts) or EMPTY
    if isinstance(value, Iterable):
        return ", ".join(value_text(item, zone) for item in value) or EMPTY
    return str(value)


def _lookup(counts: Mapping[str, Any], path: str) -> tuple[bool, Any]:
    node: Any = counts
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return False, None
        node = node[part]
    return True, node


def summary_rows(
    counts: Mapping[str, Any], labels: Mapping[str, str], zone: str | None = None
) -> list[tuple[str, str]]:
    """(Russian label, text) for each dotted path of `labels` found in `counts`, in the order
    of `labels`: a stage's summary as the coordinator's rows, the rest left to summary.json."""
    rows = []
    for path, label in labels.items():
        found, value = _lookup(counts, path)
        if found:
            rows.append((label, value_text(value, zone)))
    return rows


def _cell(value: Any) -> str:
    text = value if isinstance(value, str) else value_text(value)
    return (text or EMPTY).replace("|", "\\|").replace("\n", " ")


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A markdown table; cells that are not text go through `value_text`."""
    lines = [
        "| " + " | ".join(headers) + " |",
        "|" + "|".join(" --- " for _ in headers) + "|",
    ]
    lines += ["| " + " | ".join(_cell(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"
