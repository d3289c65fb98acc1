"""The campaign summary: one entry per plan stage with its status and counts."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["STAGE_TITLES_RU", "StageSummary", "summary_document", "summary_markdown"]

# Stages in plan order, with the Russian names the coordinator sees.
STAGE_TITLES_RU: dict[str, str] = {
    "plan": "План-график: проверка и расчёт сроков",
    "generate_region": "Синтетический регион: МОУО, ОО, участники, файлы МОУО",
    "load_region": "Загрузка в региональную базу данных",
    "collect": "Сбор сведений от МОУО",
    "reconcile": "Выверка РБД",
    "watchdog": "Контроль сроков: напоминания и уведомления",
    "print": "Печать комплектов и форм",
    "publish": "Публикация тем в 09:45 по местному времени",
    "exam_day": "День проведения (моделирование): сканы бланков от ОО",
    "copy": "Копирование бланков",
    "grade": "Проверка и оценивание",
    "scan": "Сканирование оригиналов",
    "verify": "Верификация",
    "upload": "Передача в ФЦТ",
    "inform": "Информирование участников",
}
STATUS_RU = {
    "completed": "выполнено",
    "blocked": "заблокировано",
    "skipped": "не запускалось",
    "failed": "ошибка",
    "not_built": "ещё не реализовано",
    "waiting": "ожидает операторов",
}


@dataclass(frozen=True, slots=True)
class StageSummary:
    stage: str
    status: str  # completed | blocked | skipped | failed | not_built | waiting
    counts: dict[str, Any] = field(default_factory=dict)
    note: str = ""


def summary_document(campaign: dict[str, Any], entries: list[StageSummary]) -> dict[str, Any]:
    """summary.json: every known stage appears once, those not run as `not_built`."""
    done = {entry.stage: entry for entry in entries}
    stages = [asdict(done.get(name, StageSummary(name, "not_built"))) for name in STAGE_TITLES_RU]
    return {"campaign": campaign, "stages": stages}


def _flatten(counts: dict[str, Any], prefix: str = "") -> list[str]:
    parts = []
    for key, value in counts.items():
        if isinstance(value, dict):
            parts += _flatten(value, f"{prefix}{key}.")
        else:
            parts.append(f"{prefix}{key}={value}")
    return parts


def summary_markdown(document: dict[str, Any]) -> str:
    """A short human summary in Russian, for summary.md and the Prefect artifact."""
    campaign = document["campaign"]
    lines = [
        f"# Сводка кампании {campaign['plan']}",
        "",
        f"Регион {campaign['region']}, срок {campaign['session']}, "
        f"участников {campaign['participants']}, зерно {campaign['seed']}.",
        "",
        "| этап | состояние | показатели |",
        "| --- | --- | --- |",
    ]
    for stage in document["stages"]:
        counts = ", ".join(_flatten(stage["counts"])) or "—"
        title = STAGE_TITLES_RU.get(stage["stage"], stage["stage"])
        lines.append(f"| {title} | {STATUS_RU.get(stage['status'], stage['status'])} | {counts} |")
    return "\n".join(lines) + "\n"
