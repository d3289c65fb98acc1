"""The campaign summary: one entry per plan stage with its status and counts."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from tasks.domain.artifacts import EMPTY, markdown_table, status_ru, summary_rows

__all__ = [
    "STAGE_COUNTS_RU",
    "STAGE_TITLES_RU",
    "StageSummary",
    "stage_rows",
    "summary_document",
    "summary_markdown",
]

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
# What the coordinator reads of each stage's counts (dotted paths into the stage's summary),
# in this order; everything else stays in summary.json. A waiting stage says why.
_WAITING = {"reason": "причина"}
_TRANSCRIPTION = "ошибок переноса отметок (модель)"
STAGE_COUNTS_RU: dict[str, dict[str, str]] = {
    "plan": {"sessions.offered": "сроков", "plan_stages.offered": "этапов плана-графика"},
    "generate_region": {
        "mouos": "МОУО",
        "schools": "ОО",
        "rooms": "аудиторий",
        "participants": "участников",
        "submission_rows": "строк в файлах МОУО",
        "injected_errors": "внесено ошибочных строк",
        "injected_registry_errors": "внесено межмуниципальных расхождений",
    },
    "load_region": {
        "mouos.offered": "МОУО",
        "schools.offered": "ОО",
        "rooms.offered": "аудиторий",
    },
    "collect": {
        "files": "файлов",
        "files_accepted": "файлов принято",
        "files_rejected": "файлов отклонено",
        "files_skipped": "уже обработанных файлов",
        "rows_read": "строк прочитано",
        "rows_accepted": "строк принято",
        "rows_rejected": "строк отклонено",
        "rows_warned": "строк с предупреждениями",
        "mouos_submitted": "МОУО прислали сведения",
    },
    "reconcile": {
        "rows": "строк от МОУО",
        "participants": "участников в РБД",
        "open.critical": "открыто критических расхождений",
        "open.warning": "открыто предупреждений",
        "print_gate": "допуск к печати",
        "mails_sent": "писем МОУО",
    },
    "watchdog": {
        "runs": "проверок сроков",
        "sent.reminder": "напоминаний",
        "sent.alert": "уведомлений о нарушении срока",
        "sent.escalation": "сообщений координатору",
        "sent.authority": "сообщений в орган управления образованием",
    },
    "print": {
        "open.critical": "открыто критических расхождений",
        "schools": "ОО",
        "kits": "комплектов",
        "reserve": "резервных комплектов",
        "additional": "дополнительных бланков записи",
        "pages": "страниц",
        "codes_issued": "новых кодов работ",
        "schools_rebuilt": "ОО пересобрано",
        "over_capacity": "сверх вместимости аудиторий",
        "accepted_by_demo": "расхождений принято демо-координатором",
    },
    "publish": {
        "status": "состояние",
        "published_at": "опубликовано",
        "lateness_s": "опоздание, с",
        "topics": "тем",
        "mails_sent": "писем отправлено",
        "no_address": "адресатов без адреса",
    },
    "exam_day": {
        "kits": "комплектов",
        "present": "явились",
        "absent": "не явились",
        "not_finished": "«Не закончил»",
        "removed": "«Удален»",
        "passed": "зачет (модель)",
        "transcription_errors": _TRANSCRIPTION,
        "images": "изображений",
        "files": "файлов",
        "pages_missing": "страниц не доставлено",
    },
    "copy": {
        "room_records.accepted": "строк ИС-05 принято",
        "room_records.rejected": "строк ИС-05 отклонено",
        "experts": "экспертов",
        "assignment.assigned": "работ распределено",
        "assignment.schools_without_commission": "ОО без комиссии",
        "register.copy": "работ к копированию",
        "packages.packages": "пакетов экспертов",
        "packages.pages_missing": "страниц не получено",
    },
    "grade": {
        "protocols.files": "протоколов",
        "protocols.accepted": "строк протоколов принято",
        "protocols.rejected": "строк протоколов отклонено",
        "to_grade": "работ к проверке",
        "graded": "оценено",
        "verification_opened": "отправлено на верификацию",
        "schools_behind": "ОО не завершили проверку",
        "accuracy.transcription_errors": _TRANSCRIPTION,
        "accuracy.found": "из них найдено",
    },
    "scan": {
        "pages": "страниц",
        "statuses.accepted": "принято",
        "statuses.needs_verification": "на верификацию",
        "statuses.rejected": "отклонено",
        "works": "работ",
        "missing_pages": "страниц не получено",
        "orphan_pages": "страниц без бланка регистрации",
        "pages_per_second": "страниц в секунду",
        "accuracy.pages.misattributed": "страниц отнесено не к той работе (модель)",
    },
    "verify": {
        "results.works": "работ с результатом",
        "wait.open": "открыто элементов очереди",
        "wait.closed_by_coordinator": "очередь закрыта координатором",
        "results.readings_verified": "полей верифицировано",
        "results.outcomes.passed": "зачет",
        "results.outcomes.failed": "незачет",
    },
    "upload": {
        "works": "работ",
        "pages": "страниц",
        "files": "файлов",
        "sent.sent": "файлов отправлено",
        "receipt.status": "квитанция ФЦТ",
        "receipt.problems": "замечаний ФЦТ",
    },
    "inform": {
        "participants": "участников",
        "outcomes.passed": "зачет",
        "outcomes.failed": "незачет",
        "school_lists": "списков ОО",
        "mouo_lists": "списков МОУО",
        "retake": "с правом на пересдачу",
        "next_session": "следующий срок",
        "mail.mailed": "писем МОУО",
    },
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


def stage_rows(stage: dict[str, Any], zone: str | None = None) -> list[tuple[str, str]]:
    """(показатель, значение) of one stage of summary.json, in Russian."""
    labels = {**STAGE_COUNTS_RU.get(stage["stage"], {}), **_WAITING}
    return summary_rows(stage["counts"], labels, zone)


def summary_markdown(document: dict[str, Any]) -> str:
    """A short human summary in Russian, for summary.md and the Prefect artifact: per stage
    its state and the counts the coordinator reads (all of them are in summary.json)."""
    campaign = document["campaign"]
    zone = campaign.get("zone")
    rows = [
        (
            STAGE_TITLES_RU.get(stage["stage"], stage["stage"]),
            status_ru(stage["status"]),
            "; ".join(f"{label}: {text}" for label, text in stage_rows(stage, zone)) or EMPTY,
        )
        for stage in document["stages"]
    ]
    where = f", часовой пояс {zone}" if zone else ""
    return (
        f"# Сводка кампании {campaign['plan']}\n\n"
        f"Регион {campaign['region']}, срок {campaign['session']}, "
        f"участников {campaign['participants']}, зерно {campaign['seed']}{where}.\n\n"
        + markdown_table(("этап", "состояние", "показатели"), rows)
        + "\nВсе показатели — в summary.json.\n"
    )
