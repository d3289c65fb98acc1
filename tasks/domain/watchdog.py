"""The deadline watchdog: which reminders, alerts and escalations are due at a given instant.

Pure: the plan stages with their deadlines, who has completed them, and the clock in; the
notices out, each with the key that makes it go out once (party, deadline, kind). The adapter
sends them and remembers the keys. Texts are Russian and name stages and МОУО, never people.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from tasks.domain.collect import deadline_text
from tasks.domain.submission_rules import plural

__all__ = [
    "DEFAULT_POLICY",
    "Check",
    "Notice",
    "NoticeKind",
    "Policy",
    "digest_key",
    "digest_mail",
    "evaluate",
    "notice_mail",
]


class NoticeKind(StrEnum):
    REMINDER = "reminder"  # to the responsible party, before the deadline
    ALERT = "alert"  # to the responsible party, as soon as the deadline has passed unmet
    # to the МОУО about its late schools, with the schools' alerts (the chain ОО → МОУО →
    # coordinator → authority: a late school is its МОУО's business first)
    MUNICIPAL = "municipal"
    ESCALATION = "escalation"  # to the RCOI coordinator, with the alert
    AUTHORITY = "authority"  # to the regional education authority, after a delay


@dataclass(frozen=True, slots=True)
class Policy:
    reminders: tuple[timedelta, ...] = (timedelta(days=3), timedelta(days=1))
    authority_delay: timedelta = timedelta(days=1)
    # The chain's other steps after the deadline: a late school's МОУО, then the coordinator.
    municipal_delay: timedelta = timedelta(0)
    coordinator_delay: timedelta = timedelta(0)

    def __post_init__(self) -> None:
        if any(offset <= timedelta(0) for offset in self.reminders):
            raise ValueError("reminder offsets must be positive")
        if self.authority_delay < timedelta(0):
            raise ValueError("the authority delay cannot be negative")
        if not timedelta(0) <= self.municipal_delay <= self.coordinator_delay:
            raise ValueError("the chain runs school → МОУО → coordinator: delays in that order")
        if self.coordinator_delay > self.authority_delay:
            raise ValueError("the coordinator hears before the authority")


DEFAULT_POLICY = Policy()


@dataclass(frozen=True, slots=True)
class Check:
    """One completion check: has `party` done plan stage `stage_key` of the session by `due`?"""

    plan_stage_id: int
    session_code: str
    stage_key: str
    title: str
    due: datetime  # aware
    zone: str
    party: str  # a МОУО code, a school code, "rcoi", "authority", or a body's kind
    completed: bool
    kind: str = ""  # mouo | school | rcoi | authority | fct | rosobrnadzor | other ("": by code)
    row: str | None = None  # the source's row number (a road map's titles repeat)
    parent: str | None = None  # the МОУО of a school
    occurrence: int = 0  # which period of a row with several (the key names its due instant)

    @property
    def alerted(self) -> bool:
        """Whether the party itself gets the alert: a МОУО, a school or the authority with an
        address of its own; the RCOI's and outside bodies' lateness go to the coordinator."""
        if self.party == "rcoi" or self.kind in ("rcoi", "fct", "rosobrnadzor", "other"):
            return False
        return not (self.kind and self.party == self.kind and self.kind != "authority")


@dataclass(frozen=True, slots=True)
class Notice:
    kind: NoticeKind
    key: str
    plan_stage_id: int
    session_code: str
    stage_key: str
    title: str
    due: datetime
    zone: str
    recipient: str  # a МОУО code, "coordinator" or "authority"
    parties: tuple[str, ...] = field(default=())  # the late parties, for escalations
    row: str | None = None  # the source's row number


def _label(offset: timedelta) -> str:
    """'3d', '36h', '90m': exact, so that two offsets never share a key."""
    minutes = int(offset.total_seconds() // 60)
    if minutes % (24 * 60) == 0:
        return f"{minutes // (24 * 60)}d"
    return f"{minutes // 60}h" if minutes % 60 == 0 else f"{minutes}m"


def _reminder_due(check: Check, now: datetime, policy: Policy) -> timedelta | None:
    """The latest reminder offset already reached before the deadline (earlier, missed
    reminders are not sent late: one reminder says the same, closer to the truth)."""
    if now >= check.due:
        return None
    reached = [o for o in policy.reminders if check.due - o <= now]
    return min(reached) if reached else None


def evaluate(
    checks: Iterable[Check], now: datetime, policy: Policy = DEFAULT_POLICY
) -> list[Notice]:
    """Every notice due at `now`. Sending one twice is prevented by its key, not here."""
    if now.tzinfo is None:
        raise ValueError("the watchdog clock must be timezone-aware")
    notices: list[Notice] = []
    late: dict[tuple[int, str], list[Check]] = {}
    for check in sorted(checks, key=lambda c: (c.due, c.stage_key, c.party)):
        if check.completed:
            continue
        due = check.due.astimezone(UTC)  # the key names the instant, whatever zone it came in
        base = f"{check.session_code}:{check.stage_key}:{due:%Y%m%dT%H%MZ}"
        offset = _reminder_due(check, now, policy)
        if offset is not None:
            notices.append(
                _notice(check, NoticeKind.REMINDER, f"{base}:{check.party}:{_label(offset)}")
            )
        if now >= check.due:
            if check.alerted:  # the RCOI's own lateness goes to its coordinator below
                notices.append(_notice(check, NoticeKind.ALERT, f"{base}:{check.party}"))
            late.setdefault((check.plan_stage_id, base), []).append(check)
    for (_, base), checks_late in late.items():
        schools: dict[str, list[Check]] = {}
        for check in checks_late:
            if check.parent is not None and now >= check.due + policy.municipal_delay:
                schools.setdefault(check.parent, []).append(check)
        for mouo, of_mouo in sorted(schools.items()):
            notices.append(
                _notice(
                    of_mouo[0],
                    NoticeKind.MUNICIPAL,
                    f"{base}:mouo:{mouo}",
                    mouo,
                    sorted(c.party for c in of_mouo),
                )
            )
        first = checks_late[0]
        parties = tuple(sorted(c.party for c in checks_late))
        if now >= first.due + policy.coordinator_delay:
            notices.append(
                _notice(first, NoticeKind.ESCALATION, f"{base}:coordinator", "coordinator", parties)
            )
        if now >= first.due + policy.authority_delay:
            notices.append(
                _notice(first, NoticeKind.AUTHORITY, f"{base}:authority", "authority", parties)
            )
    return notices


def _notice(
    check: Check,
    kind: NoticeKind,
    key: str,
    recipient: str | None = None,
    parties: Sequence[str] = (),
) -> Notice:
    return Notice(
        kind=kind,
        key=f"watchdog:{kind.value}:{key}",
        plan_stage_id=check.plan_stage_id,
        session_code=check.session_code,
        stage_key=check.stage_key,
        title=check.title,
        due=check.due,
        zone=check.zone,
        recipient=recipient or check.party,
        parties=tuple(parties),
        row=check.row,
    )


_BODIES_RU = {
    "rcoi": "РЦОИ",
    "authority": "орган управления образованием",
    "fct": "ФЦТ",
    "rosobrnadzor": "Рособрнадзор",
    "other": "другая организация",
    "mouo": "МОУО (все)",
    "school": "ОО (все)",
}


def _party_ru(party: str) -> str:
    if party in _BODIES_RU:
        return _BODIES_RU[party]
    return f"ОО {party}" if party.isdigit() else f"МОУО {party}"


def notice_mail(notice: Notice, now: datetime) -> tuple[str, str]:
    """Subject and body in Russian. Names the stage, the deadline in the region's local time
    and the parties; no personal data exists at this level to leak."""
    local = notice.due.astimezone(ZoneInfo(notice.zone))
    deadline = deadline_text(notice.due, notice.zone)
    if notice.kind is NoticeKind.REMINDER:
        left = max(notice.due - now, timedelta(0))
        days, hours, minutes = left.days, left.seconds // 3600, left.seconds % 3600 // 60
        if days:
            remaining = f"{days} дн. {hours} ч."
        elif hours:
            remaining = f"{hours} ч."
        else:
            remaining = f"{minutes} мин."
        day = local - timedelta(minutes=1)  # a day-only deadline ends at the next midnight
        subject = f"Напоминание: срок «{notice.title}» — {day:%d.%m.%Y}"
        body = (
            f"Уважаемые коллеги ({_party_ru(notice.recipient)})!\n\n"
            f"Напоминаем: этап плана-графика «{notice.title}» (срок {notice.session_code}) "
            f"должен быть выполнен не позднее {deadline}. Осталось {remaining}\n\n"
            "Если данные уже отправлены в РЦОИ, дождитесь протокола проверки: этап "
            "отмечается выполненным сам. Работу, которую система не видит, отметьте "
            "выполненной: на доске плана-графика РЦОИ или через координатора РЦОИ. Письмо "
            "сформировано автоматически.\n"
        )
    elif notice.kind is NoticeKind.ALERT:
        subject = f"Срок нарушен: «{notice.title}»"
        body = (
            f"Уважаемые коллеги ({_party_ru(notice.recipient)})!\n\n"
            f"Срок этапа «{notice.title}» (срок {notice.session_code}) истёк {deadline}, "
            "а выполнение этапа не зарегистрировано.\n"
            "Просим выполнить его незамедлительно и сообщить в РЦОИ о причинах задержки. "
            "Информация о нарушении срока передана координатору РЦОИ.\n"
        )
    elif notice.kind is NoticeKind.MUNICIPAL:
        late = "\n".join(f"  – {_party_ru(p)}" for p in notice.parties)
        subject = f"Нарушен срок «{notice.title}»: {len(notice.parties)} ОО"
        body = (
            f"Уважаемые коллеги ({_party_ru(notice.recipient)})!\n\n"
            f"Срок этапа «{notice.title}» (срок {notice.session_code}) истёк {deadline}. "
            "Этап не выполнили образовательные организации вашего муниципалитета:\n"
            f"{late}\n\n"
            "Им направлены уведомления о нарушении срока. Просим принять меры и сообщить в "
            "РЦОИ; сведения переданы координатору РЦОИ.\n"
        )
    else:
        whom = (
            "координатору РЦОИ"
            if notice.kind is NoticeKind.ESCALATION
            else "в орган управления образованием"
        )
        late = "\n".join(f"  – {_party_ru(p)}" for p in notice.parties)
        subject = f"Нарушен срок «{notice.title}»: {len(notice.parties)} исполн."
        body = (
            f"Сообщение {whom}.\n\n"
            f"Срок этапа «{notice.title}» (срок {notice.session_code}) истёк {deadline}. "
            "Этап не выполнили:\n"
            f"{late}\n\n"
            "Ответственным направлены уведомления о нарушении срока.\n"
        )
    return subject, body


def _listed(parties: Sequence[str], limit: int = 30) -> str:
    """The late parties, at most `limit` of them named (the rest counted): a coordinator's
    letter about a road-map row late at six hundred schools stays readable."""
    named = ", ".join(_party_ru(p) for p in parties[:limit])
    return named + (f" и ещё {len(parties) - limit}" if len(parties) > limit else "")


def digest_key(notices: Sequence[Notice]) -> str:
    """The key of one mail that carries several notices of a kind to one recipient: the same
    notices give the same key (a re-run after a crash between sending and recording)."""
    import hashlib

    digest = hashlib.sha256("\n".join(sorted(n.key for n in notices)).encode()).hexdigest()
    first = notices[0]
    return f"watchdog:digest:{first.kind.value}:{first.recipient}:{digest[:24]}"


_DIGEST_SUBJECT = {
    NoticeKind.REMINDER: "Напоминание: сроки плана-графика — {n} {rows}",
    NoticeKind.ALERT: "Сроки нарушены: {n} {rows} плана-графика",
    NoticeKind.MUNICIPAL: "Нарушены сроки ОО: {n} {rows} плана-графика",
    NoticeKind.ESCALATION: "Нарушены сроки: {n} {rows} плана-графика",
    NoticeKind.AUTHORITY: "Нарушены сроки: {n} {rows} плана-графика",
}


def digest_mail(notices: Sequence[Notice], now: datetime) -> tuple[str, str]:
    """One mail for several notices of one kind to one recipient (a school does not get fifty
    letters when a road map's month ends): every row with its deadline and, past it, who is
    late. Russian; codes and stage names only."""
    first = notices[0]
    ordered = sorted(notices, key=lambda n: (n.due, n.session_code, n.stage_key))
    lines = []
    mixed = len({n.recipient for n in notices}) > 1  # schools written to through their МОУО
    for notice in ordered:
        deadline = deadline_text(notice.due, notice.zone)
        number = f"строка {notice.row} " if notice.row else ""
        whose = f"{_party_ru(notice.recipient)}: " if mixed else ""
        line = f"  – {whose}{number}«{notice.title}» (срок {notice.session_code}): до {deadline}"
        if notice.parties:
            line += "; не выполнили: " + _listed(notice.parties)
        lines.append(line)
    listing = "\n".join(lines)
    count = len(notices)
    rows = plural(count, "строка", "строки", "строк")
    subject = _DIGEST_SUBJECT[first.kind].format(n=count, rows=rows)
    if first.kind is NoticeKind.REMINDER:
        lead = "Напоминаем: не позднее указанных сроков должны быть выполнены строки плана-графика:"
        tail = (
            "Если строка уже выполнена, отметьте её на доске плана-графика РЦОИ или через "
            "координатора РЦОИ."
        )
    elif first.kind is NoticeKind.ALERT:
        lead = "Сроки строк плана-графика истекли, а выполнение не зарегистрировано:"
        tail = (
            "Просим выполнить их незамедлительно и сообщить в РЦОИ о причинах задержки. "
            "Информация о нарушении сроков передана координатору РЦОИ."
        )
    elif first.kind is NoticeKind.MUNICIPAL:
        lead = "Образовательные организации вашего муниципалитета не выполнили в срок:"
        tail = (
            "Им направлены уведомления. Просим принять меры; сведения переданы координатору РЦОИ."
        )
    else:
        whom = (
            "координатору РЦОИ"
            if first.kind is NoticeKind.ESCALATION
            else "в орган управления образованием"
        )
        lead = f"Сообщение {whom}. Не выполнены в срок строки плана-графика:"
        tail = "Ответственным направлены уведомления о нарушении сроков."
    if first.recipient in ("coordinator", "authority"):
        greeting = ""
    elif mixed:
        greeting = "Уважаемые коллеги!\n\n"
    else:
        greeting = f"Уважаемые коллеги ({_party_ru(first.recipient)})!\n\n"
    body = f"{greeting}{lead}\n{listing}\n\n{tail}\nПисьмо сформировано автоматически.\n"
    return subject, body
