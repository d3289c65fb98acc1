"""Plan-schedule (план-график) as data: the YAML schema, its resolution to instants, its checks.

A plan names a region and its IANA zone, one or more exam sessions, and stages. Each stage has
one time specification of the kinds the sources use (DOMAIN.md §3): a window, an exact trigger,
a not-before embargo, a deadline with its inclusive wording, a month window, a recurring item,
or a reference to an external schedule. Dates are absolute or offsets from the exam day in
calendar or working days. A time of day may be 24:00: the end of that day, i.e. 00:00 of the
next (as `plan show` prints an end). `resolve_plan` turns a plan into timezone-aware instants per
session, noting every local time a clock change makes non-existent or ambiguous; `check_plan`
lists problems instead of raising.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidatorFunctionWrapHandler,
    WrapSerializer,
    WrapValidator,
    model_validator,
)

from tasks.domain.calendar import ProductionCalendar
from tasks.errors import PlanError

__all__ = [
    "END_OF_DAY",
    "DateRef",
    "EndOfDay",
    "LocalTimeNote",
    "Party",
    "Plan",
    "PlanProblem",
    "ResolvedStage",
    "Severity",
    "Stage",
    "StageKind",
    "check_plan",
    "local_time_problems",
    "resolve_plan",
]

SCHEMA_VERSION = 1


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EndOfDay(dt.time):
    """24:00 written in a plan: the end of its day, resolved as 00:00 of the next day (the way
    `rcoi plan show` prints an end at midnight). Equal only to itself, never to 00:00; later
    than every other time of the day; `replace` refused (the result would still print 24:00).
    Its `hour` is 0: code that needs its instant goes through `resolve_plan`."""

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        if isinstance(other, dt.time):
            return isinstance(other, EndOfDay)
        return NotImplemented

    def __ne__(self, other: object) -> bool:
        if isinstance(other, dt.time):
            return not isinstance(other, EndOfDay)
        return NotImplemented

    def __lt__(self, other: object) -> bool:
        if isinstance(other, dt.time):
            return False
        return NotImplemented

    def __le__(self, other: object) -> bool:
        if isinstance(other, dt.time):
            return isinstance(other, EndOfDay)
        return NotImplemented

    def __gt__(self, other: object) -> bool:
        if isinstance(other, dt.time):
            return not isinstance(other, EndOfDay)
        return NotImplemented

    def __ge__(self, other: object) -> bool:
        if isinstance(other, dt.time):
            return True
        return NotImplemented

    def replace(self, *args: object, **kwargs: object) -> dt.time:  # type: ignore[override]
        raise TypeError("24:00 (END_OF_DAY) has no hour or minute to replace")

    def __hash__(self) -> int:
        return hash("24:00")

    def __str__(self) -> str:
        return "24:00"

    def __repr__(self) -> str:
        return "END_OF_DAY"


END_OF_DAY = EndOfDay(0, 0)
_TWENTY_FOUR = {"24:00", "24:00:00"}


def _read_clock(value: object, handler: ValidatorFunctionWrapHandler) -> dt.time:
    if isinstance(value, EndOfDay) or (isinstance(value, str) and value.strip() in _TWENTY_FOUR):
        return END_OF_DAY
    if isinstance(value, int | float) and not isinstance(value, bool):  # pydantic: seconds
        raise ValueError(f"время пишется в кавычках как «ЧЧ:ММ», указано число {value}")
    return handler(value)  # type: ignore[no-any-return]


def _write_clock(value: dt.time, handler: SerializerFunctionWrapHandler) -> object:
    return "24:00" if isinstance(value, EndOfDay) else handler(value)


# A time of day of the stage's zone, "00:00" to "24:00".
ClockTime = Annotated[dt.time, WrapValidator(_read_clock), WrapSerializer(_write_clock)]


class StageKind(StrEnum):
    """Automated stages of ARCHITECTURE.md; a plan row without one is tracked, not run."""

    COLLECT = "collect"
    RECONCILE = "reconcile"
    PRINT = "print"
    PUBLISH = "publish"
    COPY = "copy"
    GRADE = "grade"
    SCAN = "scan"
    VERIFY = "verify"
    UPLOAD = "upload"
    INFORM = "inform"


class Party(StrEnum):
    """Who answers for a stage: the watchdog alerts this party and escalates one level up."""

    RCOI = "rcoi"
    MOUO = "mouo"
    SCHOOL = "school"
    COMMISSION = "commission"
    FCT = "fct"
    AUTHORITY = "authority"
    ROSOBRNADZOR = "rosobrnadzor"
    # A regional organisation outside the chain (an institute, a methodical service): the
    # coordinator marks its rows and hears of their lateness.
    OTHER = "other"


class DateRef(_Strict):
    """A day, absolute (`date`) or relative to the exam day (`offset`), with an optional time."""

    date: dt.date | None = None
    offset: int | None = None
    days: Literal["calendar", "working"] = "calendar"
    time: ClockTime | None = None

    @model_validator(mode="after")
    def _one_anchor(self) -> DateRef:
        if (self.date is None) == (self.offset is None):
            raise ValueError("укажите ровно одно из 'date' и 'offset'")
        if self.days == "working" and self.offset is None:
            raise ValueError("'days: working' задаётся только вместе с 'offset'")
        if self.time is not None and self.time.tzinfo is not None:
            raise ValueError(
                "у времени не указывается смещение от UTC: его задаёт часовой пояс этапа"
            )
        return self


class Window(_Strict):
    kind: Literal["window"]
    start: DateRef
    end: DateRef


class Exact(_Strict):
    """Nothing may happen before `at`; `until` is when the activity ends (default: that day)."""

    kind: Literal["exact"]
    at: DateRef
    until: DateRef | None = None

    @model_validator(mode="after")
    def _needs_time(self) -> Exact:
        if self.at.time is None:
            raise ValueError("для вида exact нужно время суток (time)")
        return self


class NotBefore(_Strict):
    """An embargo: «с 07.30». The stage may start at `at`, not earlier."""

    kind: Literal["not_before"]
    at: DateRef
    until: DateRef | None = None


class Deadline(_Strict):
    """Due by a day. `inclusive`: «не позднее D», «до D включительно» → true (day D counts);
    bare «до D» → null (ambiguous: resolved strictly, as the start of day D, and flagged)."""

    kind: Literal["deadline"]
    by: DateRef
    inclusive: bool | None
    wording: str | None = None
    start: DateRef | None = None


_MONTH = r"^\d{4}-(0[1-9]|1[0-2])$"


class MonthWindow(_Strict):
    """A whole month or run of months, as road maps write them: «ноябрь 2023»."""

    kind: Literal["month"] = "month"
    month: Annotated[str, Field(pattern=_MONTH)]
    through: Annotated[str, Field(pattern=_MONTH)] | None = None


class Months(_Strict):
    """Several separate months or runs of months, as road maps write them: «март, май, январь
    2024 года», «сентябрь – декабрь 2023 года, февраль – апрель 2024 года». Each period is an
    occurrence of its own, due at the period's end and tracked on its own."""

    kind: Literal["months"]
    periods: Annotated[list[MonthWindow], Field(min_length=1)]


class Recurring(_Strict):
    """A recurring item, «ежемесячно до 5 числа»: one due day per period within a range."""

    kind: Literal["recurring"]
    every: Literal["month", "week"]
    day: Annotated[int, Field(ge=1, le=31)]
    start: DateRef
    end: DateRef
    time: ClockTime | None = None

    @model_validator(mode="after")
    def _weekday(self) -> Recurring:
        if self.every == "week" and self.day > 7:
            raise ValueError(
                "у еженедельного пункта 'day' — день недели ISO, от 1 (понедельник) до 7"
            )
        return self


class External(_Strict):
    """A reference to another body's schedule («по графику ФЦТ»); to be resolved to dates."""

    kind: Literal["external"]
    reference: str
    resolved: Window | None = None


TimeSpec = Annotated[
    Window | Exact | NotBefore | Deadline | MonthWindow | Months | Recurring | External,
    Field(discriminator="kind"),
]

_SLUG = r"^[a-z][a-z0-9_]*$"


class Stage(_Strict):
    id: Annotated[str, Field(pattern=_SLUG)]
    row: str | None = None
    # The source's section heading when its row numbers restart per section (road maps).
    section: str | None = None
    title: str
    stage: StageKind | None = None
    performers: list[str] = []
    responsible: list[Party] = []
    after: list[str] = []
    sessions: list[str] | None = None
    time: TimeSpec
    overrides: dict[str, TimeSpec] = {}
    zone: str | None = None
    completion: str | None = None
    reminders_days: list[int] | None = None
    # The source's «Сроки» cell word for word («март, май, январь 2024 года»).
    term: str | None = None
    note: str | None = None


class Region(_Strict):
    code: Annotated[str, Field(pattern=r"^\d{2}$")]
    name: str
    timezone: str | None = None


class Session(_Strict):
    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9\-]*$")]
    exam_date: date
    label: str = ""


class Span(_Strict):
    """The days a plan's rows may fall on, when they reach past its school year (a road map
    that runs to the additional September period and the autumn's analysis)."""

    start: date
    end: date


class YearSession(_Strict):
    """A board session for the rows that do not depend on an exam day (a road map's months,
    its «в течение учебного года»): they are stored and tracked once, under this id, instead
    of once per exam session."""

    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9\-]*$")]
    label: str = "весь учебный год"


class Plan(_Strict):
    schema_version: Literal[1]
    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9\-]*$")]
    title: str
    source: str = ""
    procedure: Literal["ИС-11", "ИС-9", "ГИА-9", "ГИА-11"]
    school_year: Annotated[str, Field(pattern=r"^\d{4}/\d{2}$")]
    region: Region
    calendar: str = "ru"
    reminders_days: list[int] = [3, 1]
    sessions: list[Session] = []
    span: Span | None = None
    year_session: YearSession | None = None
    stages: list[Stage]

    @model_validator(mode="after")
    def _year_id_free(self) -> Plan:
        if self.year_session and self.year_session.id in {s.id for s in self.sessions}:
            raise ValueError(f"year_session.id «{self.year_session.id}» совпадает с id срока")
        return self

    def session(self, session_id: str) -> Session:
        for session in self.board_sessions():
            if session.id == session_id:
                return session
        raise PlanError(f"в плане {self.id} нет срока {session_id}")

    def year(self) -> Session | None:
        """The year session as a Session (its day: the first day of the plan's span)."""
        if self.year_session is None:
            return None
        first, _ = self.school_year_bounds()
        return Session(id=self.year_session.id, exam_date=first, label=self.year_session.label)

    def board_sessions(self) -> list[Session]:
        """The exam sessions, then the year session when the plan has one."""
        year = self.year()
        return [*self.sessions, *([year] if year else [])]

    def is_year_stage(self, stage: Stage) -> bool:
        """A row stored once under the year session: the plan has one, the row is bound to
        no exam session and none of its dates counts from an exam day."""
        return (
            self.year_session is not None
            and stage.stage is None  # an automated stage runs per exam session
            and stage.sessions is None
            and not stage.overrides
            and not _uses_offset(stage)
        )

    def session_ordinal(self, session_id: str) -> int:
        """1 for the first exam session of the plan, 2 for the next, ..."""
        return [s.id for s in self.sessions].index(self.session(session_id).id) + 1

    def school_year_bounds(self) -> tuple[date, date]:
        """1 July of the first year to 31 August of the second: the span its dates belong to
        (the plan's own `span` when it gives one)."""
        if self.span is not None:
            return self.span.start, self.span.end
        first = int(self.school_year[:4])
        return date(first, 7, 1), date(first + 1, 8, 31)


# --- resolution --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LocalTimeNote:
    """A local time of the plan that a clock change makes non-existent (`gap`: the clocks
    jumped over it) or ambiguous (`fold`: it came twice), and the instant it was read as.

    A gap is read with the offset before the change (the time moved on by the jump) and is an
    error of the plan — a warning for one occurrence of a recurring item (`recurring`), which
    moves by the jump. Of a fold's two instants a start takes the later (nothing begins too
    early: an embargo holds) and an end or a due day the earlier (alerts come early, as a bare
    «до» is read strictly), unless that end would come before the start: then the end takes
    the later too (`check_plan` warns). A day without a time is its first instant and never
    noted (a zone that changes its clocks at midnight: that day starts at 01:00)."""

    kind: Literal["gap", "fold"]
    local: datetime  # naive: the wall-clock time as the plan gives it
    zone: str
    before: timedelta  # UTC offset before the change
    after: timedelta  # UTC offset after it
    taken: datetime  # the aware instant the plan now uses
    role: Literal["start", "end"]
    recurring: bool = False  # one occurrence of a recurring item


@dataclass(frozen=True, slots=True)
class ResolvedStage:
    """A stage of one session with aware instants. `end` is exclusive: a day-only end means the
    next midnight ("24:00" of that day). `due` is the deadline instant the watchdog checks."""

    stage_id: str
    row: str | None
    title: str
    kind: str
    stage: StageKind | None
    session_id: str | None
    zone: str
    start: datetime | None
    end: datetime | None
    responsible: tuple[Party, ...]
    after: tuple[str, ...]
    occurrences: tuple[datetime, ...] = ()  # due instants of a recurring item or of periods
    start_timed: bool = False
    ambiguous: bool = False
    unresolved: bool = False
    local_times: tuple[LocalTimeNote, ...] = ()

    occurrence_starts: tuple[datetime, ...] = ()  # parallel to `occurrences`

    @property
    def due(self) -> datetime | None:
        return self.end

    def windows(self) -> list[tuple[datetime | None, datetime | None]]:
        """(start, due) of every occurrence: one for a plain row, one per period or recurring
        due day otherwise."""
        if self.occurrences:
            return list(zip(self.occurrence_starts, self.occurrences, strict=True))
        return [(self.start, self.end)]


@dataclass(frozen=True, slots=True)
class _Context:
    exam_date: date | None
    zone: ZoneInfo
    calendar: ProductionCalendar | None
    notes: list[LocalTimeNote] = field(default_factory=list)


def _day(ref: DateRef, ctx: _Context) -> date:
    if ref.date is not None:
        return ref.date
    if ctx.exam_date is None:
        raise PlanError("смещение от дня экзамена требует срока с датой экзамена")
    assert ref.offset is not None
    if ref.days == "calendar":
        return ctx.exam_date + timedelta(days=ref.offset)
    if ctx.calendar is None:
        raise PlanError("смещение в рабочих днях требует производственного календаря")
    return ctx.calendar.add_working_days(ctx.exam_date, ref.offset)


def _local(day: date, clock: time | None, ctx: _Context, role: Literal["start", "end"]) -> datetime:
    """The instant of a local day and time in the context's zone: no time is the first instant
    of the day and 24:00 that of the next day (neither is noted: the day exists even when its
    midnight does not); a written time a clock change skipped or repeated is noted (see
    LocalTimeNote)."""
    implicit = clock is None or isinstance(clock, EndOfDay)
    if isinstance(clock, EndOfDay):
        day = day + timedelta(days=1)
    naive = datetime.combine(day, time(0) if implicit or clock is None else clock)
    first, second = naive.replace(tzinfo=ctx.zone, fold=0), naive.replace(tzinfo=ctx.zone, fold=1)
    before, after = first.utcoffset(), second.utcoffset()
    if before is None or after is None or before == after:
        return first
    if implicit:  # the day's first instant: a midnight skipped is the moment of the jump
        return first.astimezone(UTC).astimezone(ctx.zone)
    # In a gap the wall time does not come back from UTC; in a fold it does, twice.
    gap = first.astimezone(UTC).astimezone(ctx.zone).replace(tzinfo=None) != naive
    # Stored as the wall time that instant really shows (a gap's 02:30 becomes 03:30): Python
    # never finds a time inside a gap equal to any instant of another zone.
    taken = (second if not gap and role == "start" else first).astimezone(UTC).astimezone(ctx.zone)
    ctx.notes.append(
        LocalTimeNote("gap" if gap else "fold", naive, str(ctx.zone), before, after, taken, role)
    )
    return taken


def _start(ref: DateRef, ctx: _Context) -> datetime:
    return _local(_day(ref, ctx), ref.time, ctx, "start")


def _end(ref: DateRef, ctx: _Context) -> datetime:
    """End of the referenced moment: its time, or the end of its day when none is given."""
    return _local(_day(ref, ctx), ref.time or END_OF_DAY, ctx, "end")


def _month_start(month: str, after: int = 0) -> date:
    year, number = int(month[:4]), int(month[5:]) + after
    year, number = year + (number - 1) // 12, (number - 1) % 12 + 1
    return date(year, number, 1)


def _recurring(spec: Recurring, ctx: _Context) -> tuple[datetime, ...]:
    first, last = _start(spec.start, ctx), _end(spec.end, ctx)
    at, days = spec.time, []
    if spec.every == "month":
        cursor = date(first.year, first.month, 1)
        while cursor <= last.date():
            days.append(cursor.replace(day=min(spec.day, _days_in_month(cursor))))
            cursor = _month_start(f"{cursor:%Y-%m}", after=1)
    else:  # every week: `day` is the ISO weekday, 1 = Monday
        cursor = first.date() + timedelta(days=(spec.day - first.isoweekday()) % 7)
        while cursor <= last.date():
            days.append(cursor)
            cursor += timedelta(days=7)
    # An occurrence is a due day: a clock change is noted only for those inside the range.
    scratch = _Context(ctx.exam_date, ctx.zone, ctx.calendar)
    out = []
    for day in days:
        moment = _local(day, at, scratch, "end")
        if first <= moment < last:
            out.append(moment)
            ctx.notes.extend(
                replace(note, recurring=True) for note in scratch.notes if note.taken == moment
            )
        scratch.notes.clear()
    return tuple(out)


def _days_in_month(day: date) -> int:
    following = date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return (following - timedelta(days=1)).day


def _zone(name: str | None, what: str) -> ZoneInfo:
    if not name:
        raise PlanError(
            f"{what}: не указан часовой пояс — поле region.timezone плана или zone этапа "
            "(IANA, например Asia/Novokuznetsk)"
        )
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: 'Asia' is a folder
        raise PlanError(f"{what}: неизвестный часовой пояс IANA «{name}»") from None


def _stage_name(stage: Stage) -> str:
    """«этап publish_topics (строка 10)»: the id and the row of the source table."""
    return f"этап {stage.id}" + (f" (строка {stage.row})" if stage.row else "")


def _resolve_stage(
    stage: Stage, session: Session | None, plan: Plan, calendar: ProductionCalendar | None
) -> ResolvedStage:
    zone_name = stage.zone or plan.region.timezone
    what = _stage_name(stage)
    ctx = _Context(session.exam_date if session else None, _zone(zone_name, what), calendar)
    spec = stage.overrides.get(session.id, stage.time) if session else stage.time
    try:
        start, end, occurrences, flags = _instants(spec, ctx)
    except PlanError as exc:
        field_name = (
            f"overrides.{session.id}" if session and session.id in stage.overrides else "time"
        )
        raise PlanError(f"{what}, поле {field_name}: {exc}") from None
    ambiguous, unresolved, timed = flags
    starts = _occurrence_starts(spec, start, occurrences, ctx)
    return ResolvedStage(
        stage_id=stage.id,
        row=stage.row,
        title=stage.title,
        kind=spec.kind,
        stage=stage.stage,
        session_id=session.id if session else None,
        zone=str(zone_name),
        start=start,
        end=end,
        responsible=tuple(stage.responsible),
        after=tuple(stage.after),
        occurrences=occurrences,
        occurrence_starts=starts,
        start_timed=timed,
        ambiguous=ambiguous,
        unresolved=unresolved,
        local_times=tuple(ctx.notes),
    )


def _instants(
    spec: BaseModel, ctx: _Context
) -> tuple[datetime | None, datetime | None, tuple[datetime, ...], tuple[bool, bool, bool]]:
    """(start, end, occurrences, (ambiguous, unresolved, start_timed)) of a time spec."""
    start: datetime | None = None
    end: datetime | None = None
    occurrences: tuple[datetime, ...] = ()
    ambiguous = unresolved = timed = False
    match spec:
        case Window():
            start, end = _start(spec.start, ctx), _end(spec.end, ctx)
            timed = spec.start.time is not None
        case Exact():
            start, timed = _start(spec.at, ctx), True
            # By default the activity runs to the end of the day the trigger falls on.
            until = spec.until or DateRef(date=start.date())
            end = _end(until, ctx)
        case NotBefore():
            start, timed = _start(spec.at, ctx), spec.at.time is not None
            end = _end(spec.until, ctx) if spec.until else None
        case Deadline():
            start = _start(spec.start, ctx) if spec.start else None
            timed = spec.start is not None and spec.start.time is not None
            if spec.inclusive:
                end = _end(spec.by, ctx)
            else:
                end = _local(_day(spec.by, ctx), spec.by.time, ctx, "end")
                ambiguous = spec.inclusive is None
        case MonthWindow():
            start = _local(_month_start(spec.month), None, ctx, "start")
            end = _local(_month_start(spec.through or spec.month, after=1), None, ctx, "end")
        case Months():  # in calendar order, whatever order the source lists them in
            periods = sorted(spec.periods, key=lambda period: period.month)
            windows = [_instants(period, ctx)[:2] for period in periods]
            occurrences = tuple(end for _, end in windows if end is not None)
            start, end = windows[0][0], windows[-1][1]
        case Recurring():
            occurrences = _recurring(spec, ctx)
            start, end = _start(spec.start, ctx), _end(spec.end, ctx)
        case External():
            if spec.resolved is None:
                unresolved = True
            else:
                start, end = _start(spec.resolved.start, ctx), _end(spec.resolved.end, ctx)
                timed = spec.resolved.start.time is not None
    return start, _not_before(start, end, ctx), occurrences, (ambiguous, unresolved, timed)


def _occurrence_starts(
    spec: BaseModel, start: datetime | None, occurrences: tuple[datetime, ...], ctx: _Context
) -> tuple[datetime, ...]:
    """When each occurrence opens: a period at its first day; a recurring due day right after
    the previous one (the first at the item's start)."""
    if isinstance(spec, Months):
        scratch = _Context(ctx.exam_date, ctx.zone, ctx.calendar)
        periods = sorted(spec.periods, key=lambda period: period.month)
        return tuple(_local(_month_start(p.month), None, scratch, "start") for p in periods)
    if not occurrences or start is None:
        return ()
    return (start, *occurrences[:-1])


def _not_before(start: datetime | None, end: datetime | None, ctx: _Context) -> datetime | None:
    """The end, read as the later of a repeated local time when the earlier would put it before
    the start (02:30–02:45 in the hour that came twice: the start is the second 02:30, so the
    end is the second 02:45). An end still before its start is the plan's error."""
    if start is None or end is None or end.astimezone(UTC) >= start.astimezone(UTC):
        return end
    for index, note in enumerate(ctx.notes):
        if note.kind == "fold" and note.role == "end" and note.taken is end:
            later = note.local.replace(tzinfo=ctx.zone, fold=1).astimezone(UTC)
            ctx.notes[index] = replace(note, taken=later.astimezone(ctx.zone))
            return ctx.notes[index].taken
    return end


def _applies(plan: Plan, stage: Stage, session: Session | None) -> bool:
    if plan.year_session is not None and session is not None:
        if session.id == plan.year_session.id:
            return plan.is_year_stage(stage)
        if plan.is_year_stage(stage):
            return False
    return session is None or stage.sessions is None or session.id in stage.sessions


def resolve_plan(
    plan: Plan, session_id: str | None = None, calendar: ProductionCalendar | None = None
) -> list[ResolvedStage]:
    """Every stage of one session (the only one when `session_id` is None) with aware instants.

    Raises PlanError when a zone is missing or unknown, or a date cannot be computed.
    """
    if session_id is not None:
        session: Session | None = plan.session(session_id)
    elif len(plan.sessions) == 1 and plan.year_session is None:
        session = plan.sessions[0]
    elif not plan.sessions:
        session = plan.year()
    else:
        raise PlanError(f"в плане {plan.id} сроков: {len(plan.sessions)}; укажите один")
    return [
        _resolve_stage(stage, session, plan, calendar)
        for stage in plan.stages
        if _applies(plan, stage, session)
    ]


# --- checks ------------------------------------------------------------------------------------


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True, slots=True)
class PlanProblem:
    """One finding of `check_plan`. `message` is in Russian: the coordinator reads it."""

    severity: Severity
    code: str
    message: str
    stage_id: str | None = None
    session_id: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


_BARE_DO = re.compile(r"(?i)^\s*до\b(?!.*включительно)")


def _structure_problems(plan: Plan) -> list[PlanProblem]:
    problems: list[PlanProblem] = []
    ids = Counter(stage.id for stage in plan.stages)
    for stage_id, count in ids.items():
        if count > 1:
            problems.append(
                PlanProblem(
                    Severity.ERROR,
                    "duplicate-id",
                    f"идентификатор этапа «{stage_id}» встречается {count} раза",
                    stage_id,
                )
            )
    rows = Counter((stage.section, stage.row) for stage in plan.stages if stage.row)
    for (section, row), count in rows.items():
        if count > 1:
            names = ", ".join(s.id for s in plan.stages if (s.section, s.row) == (section, row))
            where = f" в разделе «{section}»" if section else ""
            problems.append(
                PlanProblem(
                    Severity.WARNING,
                    "duplicate-row",
                    f"номер строки {row}{where} повторяется {count} раза: {names}",
                )
            )
    session_ids = {session.id for session in plan.sessions}
    for stage in plan.stages:
        for predecessor in stage.after:
            if predecessor not in ids:
                problems.append(
                    PlanProblem(
                        Severity.ERROR,
                        "unknown-predecessor",
                        f"этап ссылается на неизвестный этап «{predecessor}»",
                        stage.id,
                    )
                )
        for session_id in [*(stage.sessions or []), *stage.overrides]:
            if session_id not in session_ids:
                problems.append(
                    PlanProblem(
                        Severity.ERROR,
                        "unknown-session",
                        f"этап ссылается на неизвестный срок «{session_id}»",
                        stage.id,
                    )
                )
        for override, spec in [(None, stage.time), *stage.overrides.items()]:
            problems += _wording_problems(stage.id, override, spec)
    if _has_cycle(plan):
        problems.append(
            PlanProblem(Severity.ERROR, "cycle", "этапы зависят друг от друга по кругу")
        )
    return problems


def _wording_problems(stage_id: str, session_id: str | None, spec: BaseModel) -> list[PlanProblem]:
    """Problems of one time specification: a stage's own (`session_id` None) or an override's."""
    problems: list[PlanProblem] = []
    if isinstance(spec, Deadline) and spec.inclusive is None:
        problems.append(
            PlanProblem(
                Severity.WARNING,
                "ambiguous-deadline",
                f"срок «{spec.wording or 'до'}» неоднозначен: "
                "включается ли последний день? До уточнения срок считается наступившим "
                "в начале этого дня; укажите "
                "«не позднее» или «до … включительно» (inclusive: true/false)",
                stage_id,
                session_id,
            )
        )
    elif (
        isinstance(spec, Deadline)
        and spec.wording
        and _BARE_DO.match(spec.wording)
        and spec.inclusive is not None
    ):
        problems.append(
            PlanProblem(
                Severity.INFO,
                "interpreted-deadline",
                f"формулировка «{spec.wording}» истолкована как "
                f"{'включительно' if spec.inclusive else 'не включая этот день'}",
                stage_id,
                session_id,
            )
        )
    if isinstance(spec, External) and spec.resolved is None:
        problems.append(
            PlanProblem(
                Severity.WARNING,
                "unresolved-external",
                f"срок задан ссылкой «{spec.reference}» и не переведён в даты",
                stage_id,
                session_id,
            )
        )
    return problems


def _has_cycle(plan: Plan) -> bool:
    graph = {stage.id: stage.after for stage in plan.stages}
    state: dict[str, int] = {}

    def visit(node: str) -> bool:
        if state.get(node) == 1:
            return True
        if state.get(node) == 2 or node not in graph:
            return False
        state[node] = 1
        found = any(visit(child) for child in graph[node])
        state[node] = 2
        return found

    return any(visit(node) for node in graph)


def _zone_problems(plan: Plan) -> list[PlanProblem]:
    problems: list[PlanProblem] = []
    for name, where in [(plan.region.timezone, None), *((s.zone, s.id) for s in plan.stages)]:
        if name is None:
            continue
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: 'Asia' is a folder
            problems.append(
                PlanProblem(
                    Severity.ERROR, "unknown-zone", f"неизвестный часовой пояс «{name}»", where
                )
            )
    if plan.region.timezone is None:
        for stage in plan.stages:
            if stage.zone is None:
                problems.append(
                    PlanProblem(
                        Severity.ERROR,
                        "missing-zone",
                        "не указан часовой пояс (ни у региона, ни у этапа): время нельзя перевести "
                        "в единое время",
                        stage.id,
                    )
                )
    return problems


def _span_problems(resolved: list[ResolvedStage]) -> list[PlanProblem]:
    """A stage (or one of its periods) that ends before (or when) it starts: a typo such as
    «сентябрь – апрель»."""
    return [
        PlanProblem(
            Severity.ERROR,
            "end-before-start",
            f"этап заканчивается ({end:%d.%m.%Y %H:%M}) не позже, чем начинается "
            f"({start:%d.%m.%Y %H:%M})",
            stage.stage_id,
            stage.session_id,
        )
        for stage in resolved
        for start, end in {
            window: None
            for window in [
                (stage.start, stage.end),
                *(
                    zip(stage.occurrence_starts, stage.occurrences, strict=True)
                    if stage.kind == "months"
                    else ()
                ),
            ]
        }
        if start is not None
        and end is not None
        and end.astimezone(UTC) <= start.astimezone(UTC)  # not the wall clocks
    ]


def _order_problems(resolved: list[ResolvedStage]) -> list[PlanProblem]:
    by_id = {stage.stage_id: stage for stage in resolved}
    problems: list[PlanProblem] = []
    for stage in resolved:
        for predecessor_id in stage.after:
            predecessor = by_id.get(predecessor_id)
            if predecessor is None or predecessor.start is None or stage.start is None:
                continue
            # Day-only starts compare by day: a same-day hand-off is not out of order.
            both_timed = stage.start_timed and predecessor.start_timed
            if (
                stage.start < predecessor.start
                if both_timed
                else stage.start.date() < predecessor.start.date()
            ):
                problems.append(
                    PlanProblem(
                        Severity.ERROR,
                        "before-predecessor",
                        f"этап начинается {stage.start:%d.%m.%Y %H:%M}, раньше предшествующего "
                        f"этапа «{predecessor_id}» ({predecessor.start:%d.%m.%Y %H:%M})",
                        stage.stage_id,
                        stage.session_id,
                    )
                )
            elif (
                predecessor.end is not None
                and predecessor.end > stage.start
                and stage.start.date() == _last_day(predecessor.end)
            ):
                problems.append(
                    PlanProblem(
                        Severity.INFO,
                        "no-slack",
                        f"этап начинается в последний день этапа «{predecessor_id}»: "
                        "передача в тот же день, без запаса времени",
                        stage.stage_id,
                        stage.session_id,
                    )
                )
    return problems


def _offset(delta: timedelta) -> str:
    sign, minutes = ("+" if delta >= timedelta(0) else "-"), abs(int(delta.total_seconds())) // 60
    return f"UTC{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def local_time_problems(resolved: list[ResolvedStage]) -> list[PlanProblem]:
    """A local time a clock change skipped is an error (`nonexistent-time`: the plan names a
    moment that never comes); one it repeated is a warning (`ambiguous-time`) that says which of
    the two instants the plan takes (see LocalTimeNote)."""
    problems: list[PlanProblem] = []
    seen: set[tuple[str, datetime, str]] = set()
    for stage in resolved:
        for note in stage.local_times:
            if (stage.stage_id, note.local, note.role) not in seen:
                seen.add((stage.stage_id, note.local, note.role))
                severity, code, message = _local_time_message(note)
                where = {"local": note.local.isoformat(), "zone": note.zone}
                problems.append(
                    PlanProblem(severity, code, message, stage.stage_id, stage.session_id, where)
                )
    return problems


def _local_time_message(note: LocalTimeNote) -> tuple[Severity, str, str]:
    when = f"{note.local:%d.%m.%Y %H:%M} ({note.zone})"
    change = f"с {_offset(note.before)} на {_offset(note.after)}"
    utc = f"{note.taken.astimezone(UTC):%d.%m.%Y %H:%M} UTC"
    if note.kind == "gap" and note.recurring:
        shift = int((note.after - note.before).total_seconds()) // 60
        return (
            Severity.WARNING,
            "shifted-occurrence",
            f"повторяющийся срок {when} в этот день не наступает: часы переводили вперёд, "
            f"{change}; это вхождение сдвинуто на {shift} мин — на "
            f"{note.taken:%d.%m.%Y %H:%M} ({utc}); остальные — в указанное время",
        )
    if note.kind == "gap":
        return (
            Severity.ERROR,
            "nonexistent-time",
            f"местного времени {when} не существует: в эту ночь часы переводили вперёд, "
            f"{change}; укажите время до перевода или после него (сейчас прочитано как {utc})",
        )
    offset = note.taken.utcoffset() or timedelta(0)
    if note.role == "start":
        which = "второе (это начало этапа: раньше ничего не начнётся)"
    elif offset == note.after:
        which = "второе (как и у начала этапа: иначе окно кончалось бы раньше, чем начинается)"
    else:
        which = "первое (это окончание или срок: напоминания придут раньше)"
    return (
        Severity.WARNING,
        "ambiguous-time",
        f"местное время {when} наступает дважды: в эту ночь часы переводили назад, {change}; "
        f"взято {which} — {_offset(offset)}, {utc}; чтобы не зависеть от этого, укажите "
        "другое время",
    )


def _last_day(end: datetime) -> date:
    """The last local day an exclusive end instant covers: 24:00 of 13.12 → 13.12."""
    return (end - timedelta(microseconds=1)).date()


def _year_problems(plan: Plan, resolved: list[ResolvedStage]) -> list[PlanProblem]:
    first, last = plan.school_year_bounds()
    span = (
        f"периода плана {first:%d.%m.%Y}–{last:%d.%m.%Y}"
        if plan.span
        else f"{plan.school_year} учебного года"
    )
    problems = []
    for stage in resolved:
        days = [stage.start.date() if stage.start else None]
        days.append(_last_day(stage.end) if stage.end else None)
        for day in days:
            if day is not None and not first <= day <= last:
                problems.append(
                    PlanProblem(
                        Severity.WARNING,
                        "stale-year",
                        f"дата {day:%d.%m.%Y} вне {span} (не перенесена из прошлогоднего плана?)",
                        stage.stage_id,
                        stage.session_id,
                    )
                )
                break
    return problems


def check_plan(plan: Plan, calendar: ProductionCalendar | None = None) -> list[PlanProblem]:
    """All problems of a plan, errors first; never raises for a plan that passed the schema."""
    problems = _structure_problems(plan) + _zone_problems(plan)
    if any(problem.code in {"missing-zone", "unknown-zone"} for problem in problems):
        return _sorted(problems)
    sessions: list[str | None] = [s.id for s in plan.board_sessions()] or [None]
    if not plan.sessions and any(_uses_offset(stage) for stage in plan.stages):
        problems.append(
            PlanProblem(
                Severity.ERROR,
                "no-session",
                "сроки заданы от дня экзамена, но дата экзамена не указана",
            )
        )
        return _sorted(problems)
    for session_id in sessions:
        try:
            resolved = resolve_plan(plan, session_id, calendar)
        except PlanError as exc:
            problems.append(
                PlanProblem(
                    Severity.ERROR,
                    "unresolvable",
                    f"сроки не вычисляются: {exc}",
                    session_id=session_id,
                )
            )
            continue
        problems += (
            local_time_problems(resolved)
            + _span_problems(resolved)
            + _order_problems(resolved)
            + _year_problems(plan, resolved)
        )
    return _sorted(problems)


def _uses_offset(stage: Stage) -> bool:
    specs = [stage.time, *stage.overrides.values()]
    refs = [value for spec in specs for value in _refs(spec)]
    return any(ref.offset is not None for ref in refs)


def _refs(spec: BaseModel) -> list[DateRef]:
    """Every DateRef inside a time specification."""
    found: list[DateRef] = []
    for name in type(spec).model_fields:
        value = getattr(spec, name)
        if isinstance(value, DateRef):
            found.append(value)
        elif isinstance(value, BaseModel):
            found += _refs(value)
    return found


def _sorted(problems: list[PlanProblem]) -> list[PlanProblem]:
    rank = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}
    return sorted(problems, key=lambda p: rank[p.severity])
