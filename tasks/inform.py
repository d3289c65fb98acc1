"""Prefect tasks of the inform stage (seed 000 row 19): the results lists per school and per
МОУО (PDF and XLSX), the statistics report with its charts, the retake list; the lists mailed
to each МОУО with a link to acknowledge receipt (the watchdog alerts on missing ones)."""

from __future__ import annotations

import base64
import hashlib
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NONE
from sqlalchemy import select
from sqlalchemy.orm import Session

from config.settings import Settings
from tasks.adapters.acknowledgements import issue
from tasks.adapters.database import bootstrap
from tasks.adapters.inform_files import (
    write_bytes,
    write_results_xlsx,
    write_retake_xlsx,
    write_statistics_xlsx,
)
from tasks.adapters.inform_store import inform_session, mouo_contacts, next_session, result_lines
from tasks.adapters.mail import Attachment, OutgoingMail, mailer_from_settings
from tasks.adapters.models import Acknowledgement
from tasks.adapters.notifications import alert_coordinator, already_sent, send_once
from tasks.adapters.print_files import default_fonts
from tasks.adapters.submissions import mark_stage_completed, plan_stage_id, session_info
from tasks.adapters.unit_of_work import UnitOfWork, open_unit_of_work
from tasks.artifacts import markdown_artifact, table_artifact
from tasks.domain.inform import OUTCOME_SHORT_RU, by_mouo, by_school, retake_list, statistics
from tasks.domain.inform_charts import CHART_TITLES_RU, charts
from tasks.domain.inform_pdf import results_list_pdf, retake_list_pdf, statistics_pdf
from tasks.errors import DataError

__all__ = ["RESULTS_DOCUMENT", "mail_results", "write_documents"]

RESULTS_DOCUMENT = "results"
PDF = "application/pdf"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class InformBlocked(DataError):
    """Results are not final: the lists are not issued."""


@task(name="write-inform-documents", cache_policy=NONE)
def write_documents(settings: Settings, campaign: str, session: str) -> dict[str, Any]:
    """Every document of the stage under `<out>/inform/<session>/`; refused while any work
    of the session has no verified result."""
    with open_unit_of_work(settings) as uow:
        info_id = session_info(uow.session, campaign, session).id
        info = inform_session(uow.session, info_id)
        lines = result_lines(uow.session, info_id)
        following = next_session(uow.session, info_id)
    unresolved = sum(1 for line in lines if line.outcome == "unresolved")
    if unresolved:
        raise InformBlocked(
            f"сеанс {session}: у {unresolved} работ нет верифицированного результата; "
            "списки результатов не формируются"
        )
    folder = settings.out_dir / "inform" / session
    fonts = default_fonts()
    schools = by_school(lines)
    mouos = by_mouo(lines)
    for code, group in schools.items():
        title = f"Результаты: ОО {code} {group[0].school_name or ''}".strip()
        write_bytes(folder / "schools" / f"{code}.pdf", results_list_pdf(info, title, group, fonts))
        write_results_xlsx(folder / "schools" / f"{code}.xlsx", info, title, group)
    for code, group in mouos.items():
        title = f"Результаты: МОУО {code} {group[0].mouo_name}"
        write_bytes(folder / "mouo" / f"{code}.pdf", results_list_pdf(info, title, group, fonts))
        write_results_xlsx(folder / "mouo" / f"{code}.xlsx", info, title, group)
    stats = statistics(lines, info.region_name)
    pictures = charts(stats)
    for name, png in pictures.items():
        write_bytes(folder / "charts" / name, png)
    write_bytes(folder / "statistics.pdf", statistics_pdf(info, stats, pictures, fonts))
    write_statistics_xlsx(folder / "statistics.xlsx", info, stats)
    retakes = retake_list(lines, following[0] if following else None)
    if following:
        write_bytes(folder / "retake.pdf", retake_list_pdf(info, following[1], retakes, fonts))
        write_retake_xlsx(folder / "retake.xlsx", info, retakes, following[1])
    outcomes = dict(Counter(line.outcome for line in lines))
    _artifacts(campaign, session, outcomes, pictures, len(retakes), following)
    get_run_logger().info(
        "inform %s: %d lines, %d school lists, %d МОУО lists, %d retakes",
        session,
        len(lines),
        len(schools),
        len(mouos),
        len(retakes),
    )
    return {
        "folder": str(folder),
        "participants": len(lines),
        "outcomes": dict(sorted(outcomes.items())),
        "school_lists": len(schools),
        "mouo_lists": len(mouos),
        "charts": sorted(pictures),
        "retake": len(retakes),
        "next_session": following[0] if following else None,
        "schools_of_mouo": {
            m: sorted({line.school_code for line in group if line.school_code})
            for m, group in mouos.items()
        },
    }


def _artifacts(
    campaign: str,
    session: str,
    outcomes: dict[str, int],
    pictures: dict[str, bytes],
    retakes: int,
    following: tuple[str, str] | None,
) -> None:
    """Counts and the charts (embedded as data URIs: no personal data in them)."""
    images = "\n\n".join(
        f"![{CHART_TITLES_RU.get(name, name)}]"
        f"(data:image/png;base64,{base64.b64encode(png).decode('ascii')})"
        for name, png in sorted(pictures.items())
    )
    retake = f"в сеанс {following[1]}: {retakes}" if following else "сеансов больше нет"
    markdown_artifact(
        "inform-statistics",
        campaign,
        session,
        f"## Статистика сеанса {session}\n\nПраво на пересдачу {retake}\n\n{images}\n",
        "Статистика результатов и диаграммы",
    )
    table_artifact(
        "inform-outcomes",
        campaign,
        session,
        [
            {"итог": OUTCOME_SHORT_RU.get(k, k), "участников": v}
            for k, v in sorted(outcomes.items())
        ],
        "Итоги участников сеанса",
    )


def _attachments(folder: Path, mouo: str, schools: Sequence[str]) -> tuple[Attachment, ...]:
    files = [
        (f"Результаты_МОУО_{mouo}.pdf", folder / "mouo" / f"{mouo}.pdf", PDF),
        (f"Результаты_МОУО_{mouo}.xlsx", folder / "mouo" / f"{mouo}.xlsx", XLSX),
    ] + [(f"Результаты_ОО_{s}.pdf", folder / "schools" / f"{s}.pdf", PDF) for s in schools]
    return tuple(Attachment(name, path.read_bytes(), mime) for name, path, mime in files)


@task(name="mail-results", cache_policy=NONE)
def mail_results(
    settings: Settings, campaign: str, session: str, documents: dict[str, Any]
) -> dict[str, Any]:
    """Each МОУО gets its list and its schools' lists, with a one-time acknowledgement link;
    the same documents are never mailed twice, changed ones are (with a new link)."""
    folder = Path(documents["folder"])
    database = bootstrap(settings)
    mailer = mailer_from_settings(settings)
    mailed = unchanged = no_address = 0
    try:
        with UnitOfWork(database.session_factory) as uow:
            info = session_info(uow.session, campaign, session)
            stage_id = plan_stage_id(uow.session, info.id, "inform")
            contacts = mouo_contacts(uow.session)
        for mouo, schools in sorted(documents["schools_of_mouo"].items()):
            name, emails = contacts.get(mouo, (mouo, ()))
            attachments = _attachments(folder, mouo, schools)
            digest = hashlib.sha256(b"".join(a.content for a in attachments)).hexdigest()
            if not emails:
                no_address += 1
                alert_coordinator(  # a МОУО without an address: hand the lists over another way
                    settings,
                    database.session_factory,
                    f"inform-no-address:{session}:{mouo}:{digest[:16]}",
                    f"Списки результатов {session} не отправлены МОУО {mouo}: нет адреса",
                    f"У МОУО {mouo} нет адреса электронной почты в РБД: списки результатов "
                    f"сеанса {session} не отправлены. Передайте их другим способом (папка "
                    f"inform/{session}/mouo/) и внесите адрес.\nРЦОИ\n",
                    stage_id,
                )
                continue
            now = datetime.now(UTC)
            with UnitOfWork(database.session_factory) as uow:
                row = _acknowledgement(uow.session, info.id, mouo)
                if row is not None and row.content_sha256 == digest:
                    if already_sent(uow.session, _mail_key(session, mouo, row.token_sha256)):
                        unchanged += 1  # these very lists went out with this link
                        continue
                    uow.session.delete(row)  # issued, never mailed (a crash): anew
                    uow.session.flush()
                # new content, or the lists changed back to what an older mail held: the
                # acknowledgement row says what the МОУО got last, not the mail history
                token = issue(uow.session, info.id, mouo, RESULTS_DOCUMENT, digest, now)
                uow.commit()
            assert token is not None
            mail = OutgoingMail(
                key=_mail_key(session, mouo, hashlib.sha256(token.encode()).hexdigest()),
                to=emails,
                subject=f"Результаты итогового сочинения (изложения) {session}: {mouo}",
                body=_body(settings, session, name, len(schools), token),
                attachments=attachments,
            )
            mailed += send_once(database.session_factory, mailer, mail, "report", stage_id)
        with UnitOfWork(database.session_factory) as uow:
            mark_stage_completed(
                uow.session, stage_id, "rcoi", datetime.now(UTC), {"mailed": mailed}
            )
            uow.commit()
    finally:
        database.dispose()
    get_run_logger().info(
        "results mailed to %d МОУО (%d unchanged, %d without address)",
        mailed,
        unchanged,
        no_address,
    )
    return {"mailed": mailed, "unchanged": unchanged, "no_address": no_address}


def _mail_key(session: str, mouo: str, token_sha256: str) -> str:
    return f"inform-results:{session}:{mouo}:{token_sha256[:16]}"


def _acknowledgement(session: Session, session_id: int, mouo: str) -> Acknowledgement | None:
    return session.scalars(
        select(Acknowledgement).where(
            Acknowledgement.session_id == session_id,
            Acknowledgement.party == mouo,
            Acknowledgement.document == RESULTS_DOCUMENT,
        )
    ).one_or_none()


def _body(settings: Settings, session: str, name: str, schools: int, token: str) -> str:
    link = f"{settings.public_base_url.rstrip('/')}/ack/{token}"
    return (
        f"Здравствуйте!\n\n{name}: во вложении результаты итогового сочинения (изложения) "
        f"сеанса {session} — список МОУО (PDF и XLSX) и списки {schools} ОО.\n"
        "Выпускники прошлых лет включены в список МОУО по месту жительства и знакомятся с "
        "результатами в МОУО.\n\n"
        f"Подтвердите получение по ссылке:\n{link}\n\n"
        "Списки содержат персональные данные: только для служебного пользования.\n"
        "РЦОИ\n"
    )
