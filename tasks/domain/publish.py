"""Publishing the session's topics (seed 000 row 10): the release instant, the decision at `now`,
the topics page (HTML and JSON) and the Russian mail texts.

Pure: the instant comes from the plan's publish stage (09:45 «точно в» for the essay, «с 07.30»
for the interview's test materials), in the region's zone or a school's own; the clock is an
argument (`now`), never read here. `Clock` is the small interface the adapters implement.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any, Literal, Protocol
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from tasks.domain.artifacts import EMPTY, local_time_text, markdown_table, status_ru, value_text
from tasks.domain.identifiers import parse_topic_number
from tasks.domain.plan import ResolvedStage, StageKind
from tasks.errors import DataError, InvalidIdentifier, PlanError, PublishError

__all__ = [
    "PUBLISH_GRACE",
    "Clock",
    "Direction",
    "Recipient",
    "ReleaseRule",
    "Topic",
    "TopicSet",
    "ZoneRelease",
    "ensure_due",
    "failure_mail",
    "first_release",
    "is_due",
    "late_alert_mail",
    "lateness_s",
    "local_text",
    "page_html",
    "page_json",
    "parse_topic_set",
    "publication_markdown",
    "release_rule",
    "too_early_text",
    "topics_mail",
    "zone_releases",
]

# Nothing out two minutes after the instant (09:47 for 09:45) is an alert to the coordinator.
PUBLISH_GRACE = timedelta(minutes=2)
# The scheduled run starts this much earlier and waits for the instant itself.


class Clock(Protocol):
    """Time for the publish stage: the real one sleeps, a simulated one jumps."""

    def now(self) -> datetime:
        """The current instant, timezone-aware."""
        ...

    def sleep_until(self, instant: datetime) -> None:
        """Return at `instant` or later, never earlier."""
        ...


# --- topics ------------------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Topic(_Strict):
    number: str  # '101': the direction's digit, then 01-99
    title: Annotated[str, Field(min_length=1)]


class Direction(_Strict):
    number: Annotated[int, Field(ge=1, le=9)]
    title: Annotated[str, Field(min_length=1)]
    topics: Annotated[list[Topic], Field(min_length=1)]


class TopicSet(_Strict):
    """The topics of one session, as loaded into the vault and published at the instant."""

    schema_version: Literal[1] = 1
    session: str
    procedure: Literal["ИС-11", "ИС-9", "ГИА-9", "ГИА-11"]
    title: Annotated[str, Field(min_length=1)]  # «Темы итогового сочинения (изложения)»
    heading: str = "Направление"  # what a group is called: направление (essay), вариант (ИС-9)
    note: str = ""
    directions: Annotated[list[Direction], Field(min_length=1)]

    @model_validator(mode="after")
    def _numbers(self) -> TopicSet:
        numbers = [d.number for d in self.directions]
        if len(set(numbers)) != len(numbers):
            raise ValueError("номера направлений повторяются")
        seen: set[str] = set()
        for direction in self.directions:
            for topic in direction.topics:
                try:
                    code = parse_topic_number(topic.number, frozenset(numbers))
                except InvalidIdentifier as exc:
                    raise ValueError(exc.reason) from None
                if int(code[0]) != direction.number:
                    raise ValueError(f"тема {code} не относится к направлению {direction.number}")
                if code in seen:
                    raise ValueError(f"номер темы {code} повторяется")
                seen.add(code)
        return self

    @property
    def count(self) -> int:
        return sum(len(d.topics) for d in self.directions)


def parse_topic_set(
    document: Mapping[str, Any], session_id: str, procedure: str | None = None
) -> TopicSet:
    """A topic file's content checked against its session (and the plan's procedure); the
    DataError reason is a Russian sentence for the operator who loads the file."""
    try:
        topics = TopicSet.model_validate(document)
    except ValidationError as exc:
        where = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'файл'}: {e['msg']}" for e in exc.errors()
        )
        raise DataError(f"файл тем не соответствует формату: {where}") from None
    if topics.session != session_id:
        raise DataError(f"файл тем относится к сроку {topics.session}, а не к {session_id}")
    if procedure is not None and topics.procedure != procedure:
        raise DataError(f"файл тем для процедуры {topics.procedure}, а план — {procedure}")
    return topics


# --- the instant -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReleaseRule:
    """When the topics may go out: a local wall time on a day, in the region's zone by default.
    The same wall time holds in every zone: 09:45 in Moscow and 09:45 in Kamchatka."""

    stage_id: str
    title: str
    kind: str  # exact | not_before
    day: date
    at: time
    zone: str  # the region's (the plan stage's) IANA zone

    def instant(self, zone: str | None = None) -> datetime:
        return datetime.combine(self.day, self.at, tzinfo=ZoneInfo(zone or self.zone))

    def alert_instant(self, zone: str | None = None) -> datetime:
        return self.instant(zone) + PUBLISH_GRACE


def release_rule(stages: Iterable[ResolvedStage], stage_id: str | None = None) -> ReleaseRule:
    """The release rule of a session from its resolved publish stage (`stage: publish`, kind
    `exact` or `not_before` with a time of day). PlanError when there is none or several."""
    found = [s for s in stages if s.stage is StageKind.PUBLISH and stage_id in (None, s.stage_id)]
    if not found:
        raise PlanError("the plan has no publish stage for this session (stage: publish)")
    if len(found) > 1:
        names = ", ".join(s.stage_id for s in found)
        raise PlanError(f"several publish stages ({names}): name the one to run")
    stage = found[0]
    if stage.kind not in ("exact", "not_before") or stage.start is None or not stage.start_timed:
        raise PlanError(
            f"publish stage {stage.stage_id}: needs kind exact or not_before with a time of day"
        )
    local = stage.start.astimezone(ZoneInfo(stage.zone))
    return ReleaseRule(
        stage.stage_id, stage.title, stage.kind, local.date(), local.time(), stage.zone
    )


def first_release(rule: ReleaseRule, zones: Iterable[str] = ()) -> datetime:
    """When the session's publication starts, in the region's zone: the earliest instant over
    the region's zone and the recipients' `zones` (a school east of the region gets its topics
    at 09:45 of its own zone, hours earlier) — the one-off schedule of its deployment."""
    earliest = min(rule.instant(zone) for zone in {rule.zone, *zones})
    return earliest.astimezone(ZoneInfo(rule.zone))


def _aware(moment: datetime, what: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware")
    return moment


def is_due(now: datetime, instant: datetime) -> bool:
    """True at the instant and after it; 09:44:59.9 is not 09:45."""
    return _aware(now, "now") >= _aware(instant, "the instant")


def ensure_due(now: datetime, instant: datetime) -> None:
    """The last guard before anything is decrypted or written."""
    if not is_due(now, instant):
        raise PublishError(f"refusing to publish at {now.isoformat()}: not before {instant}")


def lateness_s(out_at: datetime, instant: datetime) -> float:
    """Seconds after the instant (never negative), to the millisecond."""
    return round(max((out_at - instant).total_seconds(), 0.0), 3)


def _local(moment: datetime, zone: str) -> datetime:
    return moment.astimezone(ZoneInfo(zone))


def local_text(moment: datetime, zone: str) -> str:
    """'06.12.2017 09:44:59.9': local time to the tenth of a second when it has a fraction."""
    local = _local(moment, zone)
    tenths = f".{local.microsecond // 100_000}" if local.microsecond else ""
    return f"{local:%d.%m.%Y %H:%M:%S}{tenths}"


def too_early_text(rule: ReleaseRule, now: datetime, instant: datetime, zone: str) -> str:
    """The operator's refusal, in Russian."""
    return (
        f"Публиковать темы рано: сейчас {local_text(now, zone)}, а этап «{rule.title}» "
        f"разрешён не раньше {local_text(instant, zone)} по местному времени ({zone}). "
        "Ничего не опубликовано и не разослано."
    )


# --- recipients by zone ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Recipient:
    kind: Literal["mouo", "school"]
    code: str
    emails: tuple[str, ...]
    zone: str | None = None  # a school's own zone; None: the region's


@dataclass(frozen=True, slots=True)
class ZoneRelease:
    """The recipients of one zone and their instant; `opens_page` on the latest zone only:
    the page is public, so it opens when it is 09:45 everywhere in the region."""

    zone: str
    at: datetime
    alert_at: datetime
    recipients: tuple[Recipient, ...]
    opens_page: bool


def zone_releases(rule: ReleaseRule, recipients: Iterable[Recipient]) -> tuple[ZoneRelease, ...]:
    """Recipients grouped by zone (МОУО and schools without a zone of their own in the
    region's), earliest instant first. The region's zone is always there: it holds the page."""
    groups: dict[str, list[Recipient]] = {rule.zone: []}
    for recipient in recipients:
        groups.setdefault(recipient.zone or rule.zone, []).append(recipient)
    # Latest instant opens the page; on a tie the region's own zone does.
    page_zone = max(groups, key=lambda z: (rule.instant(z), z == rule.zone))
    return tuple(
        sorted(
            (
                ZoneRelease(
                    zone,
                    rule.instant(zone),
                    rule.alert_instant(zone),
                    tuple(sorted(members, key=lambda r: (r.kind != "mouo", r.code))),
                    zone == page_zone,
                )
                for zone, members in groups.items()
            ),
            key=lambda g: (g.at, g.opens_page, g.zone),
        )
    )


# --- the page ----------------------------------------------------------------------------------


def page_json(
    topics: TopicSet, rule: ReleaseRule, region_name: str, plan_id: str, zone: str
) -> bytes:
    """topics.json: the same bytes for the same topics (a re-run rewrites nothing)."""
    document = {
        "schema": "rcoi.topics/1",
        "plan": plan_id,
        "region": region_name,
        "session": topics.session,
        "procedure": topics.procedure,
        "title": topics.title,
        "release_at": rule.instant(zone).isoformat(),
        "zone": zone,
        "heading": topics.heading,
        "note": topics.note,
        "directions": [d.model_dump() for d in topics.directions],
    }
    return (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def page_html(topics: TopicSet, rule: ReleaseRule, region_name: str, zone: str) -> str:
    """index.html: a plain, valid HTML5 page in Russian; every text is escaped."""
    e = html.escape
    local = rule.instant(zone)
    sections = []
    for direction in topics.directions:
        items = "\n".join(
            f'      <li><span class="number">{e(t.number)}</span> {e(t.title)}</li>'
            for t in direction.topics
        )
        sections.append(
            "  <section>\n"
            f"    <h2>{e(topics.heading)} {direction.number}. «{e(direction.title)}»</h2>\n"
            f"    <ul>\n{items}\n    </ul>\n"
            "  </section>"
        )
    note = f"  <p>{e(topics.note)}</p>\n" if topics.note else ""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="ru">\n'
        "<head>\n"
        '<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{e(topics.title)} — {local:%d.%m.%Y}</title>\n"
        "<style>body{font-family:sans-serif;max-width:48rem;margin:2rem auto;padding:0 1rem;"
        "line-height:1.5}.number{font-weight:bold;margin-right:.5rem}</style>\n"
        "</head>\n"
        "<body>\n"
        "<main>\n"
        f"  <h1>{e(topics.title)}</h1>\n"
        f"  <p>{e(region_name)}, срок проведения {local:%d.%m.%Y}. Темы открыты "
        f"с {local:%H:%M} по местному времени ({e(zone)}).</p>\n"
        f"{note}" + "\n".join(sections) + "\n"
        '  <p><a href="topics.json">Темы в формате JSON</a></p>\n'
        "</main>\n"
        "</body>\n"
        "</html>\n"
    )


# --- mail --------------------------------------------------------------------------------------


def _topic_lines(topics: TopicSet) -> str:
    blocks = []
    for direction in topics.directions:
        lines = [f"{topics.heading} {direction.number}. «{direction.title}»"]
        lines += [f"  {t.number}. {t.title}" for t in direction.topics]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def _whom(recipient: Recipient) -> str:
    return f"МОУО {recipient.code}" if recipient.kind == "mouo" else f"ОО {recipient.code}"


def topics_mail(
    topics: TopicSet, recipient: Recipient, instant: datetime, zone: str, page_url: str | None
) -> tuple[str, str]:
    """Subject and body of the topics mail to a МОУО or a school, in Russian."""
    local = _local(instant, zone)
    where = f" и на сайте РЦОИ: {page_url}" if page_url else " и на сайте РЦОИ"
    subject = f"{topics.title}: срок {local:%d.%m.%Y}"
    body = (
        f"Уважаемые коллеги ({_whom(recipient)})!\n\n"
        f"Направляем {topics.title[:1].lower() + topics.title[1:]} (срок {local:%d.%m.%Y}). "
        f"Темы открыты с {local:%H:%M} {local:%d.%m.%Y} по местному времени ({zone}); "
        f"они опубликованы в этом письме{where}.\n\n"
        f"{_topic_lines(topics)}\n\n"
        + (f"{topics.note}\n\n" if topics.note else "")
        + "Письмо сформировано автоматически, отвечать на него не нужно.\n"
    )
    return subject, body


def late_alert_mail(
    rule: ReleaseRule,
    session_id: str,
    zone: str,
    out_at: datetime | None,
    why: str = "",
) -> tuple[str, str]:
    """The coordinator's alert: nothing out by 09:47 (or out, but after it)."""
    instant, alert_at = rule.instant(zone), rule.alert_instant(zone)
    if out_at is None:
        subject = f"Темы не опубликованы к {alert_at:%H:%M}: срок {session_id} ({zone})"
        state = (
            f"К {alert_at:%H:%M} по местному времени ({zone}) темы не опубликованы и не разосланы."
        )
    else:
        late = lateness_s(out_at, instant)
        subject = f"Темы опубликованы с опозданием: срок {session_id} ({zone})"
        state = (
            f"Темы опубликованы в {_local(out_at, zone):%H:%M:%S} по местному времени ({zone}), "
            f"с опозданием на {late:.0f} с."
        )
    body = (
        "Сообщение координатору РЦОИ.\n\n"
        f"Этап «{rule.title}» (срок {session_id}) должен быть выполнен в "
        f"{instant:%H:%M} {instant:%d.%m.%Y}. {state}\n"
        + (f"Причина: {why}\n" if why else "")
        + "\nПроверьте запуск потока публикации (Prefect, поток publish) и при необходимости "
        "разошлите темы МОУО и ОО вручную.\n"
    )
    return subject, body


def failure_mail(session_id: str, plan_id: str, reason: str) -> tuple[str, str]:
    """The coordinator's alert when a publish run failed."""
    subject = f"Сбой публикации тем: срок {session_id}"
    body = (
        "Сообщение координатору РЦОИ.\n\n"
        f"Поток публикации тем (план {plan_id}, срок {session_id}) завершился с ошибкой: "
        f"{reason}\n\n"
        "Повторный запуск безопасен: уже опубликованное не переписывается, уже отправленные "
        "письма не отправляются повторно.\n"
    )
    return subject, body


# --- the coordinator's summary -----------------------------------------------------------------


def _instant_text(value: str | None, zone: str, seconds: bool = False) -> str:
    """An ISO instant of the run's summary in `zone`, the zone named."""
    return local_time_text(datetime.fromisoformat(value), zone, seconds=seconds) if value else EMPTY


def publication_markdown(summary: Mapping[str, Any], zones: Sequence[Mapping[str, Any]]) -> str:
    """The run's artifact: counts only (no address, no person); instants in local time with
    their zone named."""
    published = _instant_text(summary.get("published_at"), summary.get("zone") or "UTC", True)
    text = (
        f"# Публикация тем: срок {summary['session']}\n\n"
        f"Состояние: **{status_ru(summary['status'])}**. "
        f"Тем: {summary.get('topics') or EMPTY}; опубликовано: {published}; "
        f"опоздание: {value_text(summary.get('lateness_s'))} с.\n\n"
        + markdown_table(
            ("пояс", "время публикации", "отправлено", "уже отправлялось", "без адреса", "ошибки"),
            [
                (
                    zone["zone"],
                    _instant_text(zone.get("release_at"), zone["zone"]),
                    zone.get("sent", 0),
                    zone.get("already_sent", 0),
                    zone.get("no_address", 0),
                    zone.get("failed", 0),
                )
                for zone in zones
            ],
        )
    )
    if summary.get("sha256"):
        text += f"\nSHA-256 topics.json: `{summary['sha256']}`\n"
    return text
