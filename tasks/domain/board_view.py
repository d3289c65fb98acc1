"""What the board page shows: the cells of a plan summed up per row and session, in Russian.

Pure: the cells `tasks.domain.board.cells_of` computed, the stage counts and last runs the
adapters read, and the clock in; per plan row (in plan order, under its section) and session
one summary out — the overall state, performers and periods done, how many are late and by
how much at most, the first waiting reason and on whom, the windows as the plan reads them in
local time with the zone. The МОУО drill-down gets one line per (row, session, performer).
Nothing personal: states, codes, counts and the plan's own wording.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from tasks.domain.board import STATE_RU, BoardRow, Cell, RowStatus, overall

__all__ = [
    "MONTHS_RU",
    "BoardLine",
    "LastRun",
    "PartyLine",
    "PartyMark",
    "Section",
    "SessionSummary",
    "StageCounts",
    "board_sections",
    "counts_of",
    "format_lateness",
    "format_moment",
    "format_windows",
    "only_state",
    "party_lines",
    "period_labels",
    "state_totals",
    "summarise",
]

MONTHS_RU = (
    "январь",
    "февраль",
    "март",
    "апрель",
    "май",
    "июнь",
    "июль",
    "август",
    "сентябрь",
    "октябрь",
    "ноябрь",
    "декабрь",
)
_SHOWN_PARTIES = 5  # late performers named in a summary; the rest counted


@dataclass(frozen=True, slots=True)
class StageCounts:
    """What the automated stages of one session have done so far (tasks/adapters/
    board_counts.py reads them): the figures a coordinator checks on the board."""

    mouo_submitted: int = 0  # МОУО with an accepted file
    mouo_total: int = 0  # МОУО of the region
    rows_rejected: int = 0  # rejected rows of the accepted files
    discrepancies_open: int = 0
    kits_printed: int = 0
    pages_scanned: int = 0
    queue_open: int = 0  # verification items still open
    works_graded: int = 0  # works with an accepted protocol row
    acks_received: int = 0  # МОУО that acknowledged the results lists
    acks_sent: int = 0  # МОУО the lists were sent to


def counts_of(stage: str | None, counts: StageCounts | None) -> tuple[tuple[str, str], ...]:
    """The figures shown beside a row of an automated stage, as (label, value)."""
    if stage is None or counts is None:
        return ()
    c = counts
    shown: dict[str, tuple[tuple[str, str], ...]] = {
        "collect": (
            ("МОУО сдали", f"{c.mouo_submitted}/{c.mouo_total}"),
            ("строк отклонено", str(c.rows_rejected)),
        ),
        "reconcile": (("расхождений открыто", str(c.discrepancies_open)),),
        "print": (("комплектов напечатано", str(c.kits_printed)),),
        "scan": (
            ("страниц отсканировано", str(c.pages_scanned)),
            ("в очереди верификации", str(c.queue_open)),
        ),
        "verify": (("в очереди верификации", str(c.queue_open)),),
        "grade": (("работ проверено", str(c.works_graded)),),
        "inform": (("подтверждений", f"{c.acks_received}/{c.acks_sent}"),),
    }
    return shown.get(stage, ())


@dataclass(frozen=True, slots=True)
class LastRun:
    """The last Prefect run of an automated row: the one holding the stage's key now, else
    the one that recorded the latest completion."""

    flow_run_id: str
    at: datetime | None = None
    running: bool = False


@dataclass(frozen=True, slots=True)
class PartyMark:
    """A performer of a row as the mark forms offer it: whether some period is still open
    (can be marked) and whether one was marked by hand (can be reopened)."""

    party: str
    label: str
    kind: str
    open: bool
    marked: bool

    @property
    def per_school(self) -> bool:
        """One school of the directory (marked in its МОУО's drill-down, not on the board)."""
        return self.kind == "school" and self.party != self.kind


@dataclass(frozen=True, slots=True)
class SessionSummary:
    """One plan row in one session."""

    row: BoardRow
    state: RowStatus
    term: str
    performers_done: int
    performers_total: int
    periods_done: int
    periods_total: int
    late_count: int
    lateness: timedelta | None  # the largest of the late cells, as of now
    late_parties: tuple[str, ...]  # who is late (labels), the first few
    late_more: int  # how many more are late
    done_late: timedelta | None  # done, but after the due (the largest)
    waiting_reason: str
    waiting_on: str
    counts: tuple[tuple[str, str], ...] = ()
    run: LastRun | None = None
    parties: tuple[PartyMark, ...] = ()

    @property
    def session_code(self) -> str:
        return self.row.session_code

    @property
    def state_ru(self) -> str:
        return STATE_RU[self.state]

    @property
    def manual(self) -> bool:
        """Marked done by hand (no stage records it)."""
        return not self.row.tracked_by_stage

    @property
    def lateness_ru(self) -> str:
        return f"просрочен на {format_lateness(self.lateness)}" if self.lateness else ""

    @property
    def done_late_ru(self) -> str:
        """A done row finished after its due: by how much (the latest of its performers)."""
        if not self.done_late:
            return ""
        if self.state is RowStatus.DONE:
            return f"выполнен с опозданием на {format_lateness(self.done_late)}"
        return f"выполнено позже срока на {format_lateness(self.done_late)}"


@dataclass(frozen=True, slots=True)
class BoardLine:
    """A plan row across the sessions it appears in."""

    stage_key: str
    number: str  # the source's number, else the row's place in the plan
    numbered: bool  # the number is the source's
    section: str | None
    title: str
    performers: tuple[str, ...]  # as the source names them
    sessions: tuple[SessionSummary, ...]


@dataclass(frozen=True, slots=True)
class Section:
    title: str | None
    lines: tuple[BoardLine, ...] = field(default_factory=tuple)


def format_moment(moment: datetime, zone: str, *, end: bool = False) -> str:
    """'06.12.2017 09:45' in `zone`; an `end` at local midnight reads as the plan writes it,
    '22.11.2017 24:00'; a start at midnight is the day alone."""
    local = moment.astimezone(ZoneInfo(zone))
    if local.time() == time(0, 0):
        if end:
            return f"{local - timedelta(days=1):%d.%m.%Y} 24:00"
        return f"{local:%d.%m.%Y}"
    return f"{local:%d.%m.%Y %H:%M}"


def _months(start: datetime, due: datetime, zone: str) -> tuple[tuple[int, int], ...] | None:
    """The whole months a window covers, (year, month) each, when it is exactly that."""
    a, b = start.astimezone(ZoneInfo(zone)), due.astimezone(ZoneInfo(zone))
    if (a.day, a.time(), b.day, b.time()) != (1, time(0, 0), 1, time(0, 0)) or b <= a:
        return None
    months, year, month = [], a.year, a.month
    while (year, month) < (b.year, b.month):
        months.append((year, month))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return tuple(months)


def _month_span(months: tuple[tuple[int, int], ...]) -> str:
    (y1, m1), (y2, m2) = months[0], months[-1]
    if len(months) == 1:
        return f"{MONTHS_RU[m1 - 1]} {y1}"
    if y1 == y2:
        return f"{MONTHS_RU[m1 - 1]} – {MONTHS_RU[m2 - 1]} {y2}"
    return f"{MONTHS_RU[m1 - 1]} {y1} – {MONTHS_RU[m2 - 1]} {y2}"


def _window(start: datetime | None, due: datetime | None, zone: str) -> str:
    if start is None and due is None:
        return ""
    if start is None:
        assert due is not None
        return f"до {format_moment(due, zone, end=True)}"
    if due is None:
        return f"с {format_moment(start, zone)}"
    a, b = start.astimezone(ZoneInfo(zone)), due.astimezone(ZoneInfo(zone))
    midnight = time(0, 0)
    if a.time() == b.time() == midnight and b.date() - a.date() == timedelta(days=1):
        return f"{a:%d.%m.%Y}"  # the whole day
    if a.date() == b.date() and a.time() != midnight:
        return f"{a:%d.%m.%Y} с {a:%H:%M} до {b:%H:%M}"
    return f"с {format_moment(start, zone)} до {format_moment(due, zone, end=True)}"


def format_windows(
    windows: Sequence[tuple[datetime | None, datetime | None]],
    zone: str,
    external: str | None,
    *,
    with_zone: bool = True,
) -> str:
    """A row's windows as the plan reads them, in local time with the zone: «до 22.11.2017
    24:00 (Asia/Novokuznetsk)», «август – сентябрь 2023 (…)», «январь, март, май 2024 (…)»
    (single months of one year run together), several periods separated by «;». An external
    reference without dates is quoted."""
    if external is not None and all(w == (None, None) for w in windows):
        return f"«{external}» (даты не внесены)"
    parts: list[str] = []
    single: list[tuple[int, int]] = []  # consecutive single months, written together

    def flush() -> None:
        by_year: list[tuple[int, list[str]]] = []
        for year, month in single:
            if by_year and by_year[-1][0] == year:
                by_year[-1][1].append(MONTHS_RU[month - 1])
            else:
                by_year.append((year, [MONTHS_RU[month - 1]]))
        parts.extend(f"{', '.join(names)} {year}" for year, names in by_year)
        single.clear()

    for start, due in windows:
        months = _months(start, due, zone) if start and due else None
        if months is not None and len(months) == 1:
            single.append(months[0])
            continue
        flush()
        text = _month_span(months) if months else _window(start, due, zone)
        if text:
            parts.append(text)
    flush()
    if not parts:
        return "срок не указан"
    return f"{'; '.join(parts)} ({zone})" if with_zone else "; ".join(parts)


def period_labels(row: BoardRow) -> list[str]:
    """Each period of a row on its own, without the zone: the mark forms' choices."""
    return [format_windows([w], row.zone, None, with_zone=False) for w in row.windows]


def format_lateness(delta: timedelta | None) -> str:
    """«2 дн. 3 ч.», «5 ч. 20 мин.», «15 мин.»: days and hours past a day, hours and minutes
    within it; never less than a minute."""
    if delta is None:
        return ""
    minutes = max(1, int(delta.total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days} дн. {hours} ч." if hours else f"{days} дн."
    if hours:
        return f"{hours} ч. {minutes} мин." if minutes else f"{hours} ч."
    return f"{minutes} мин."


def _parties(cells: Sequence[Cell]) -> tuple[PartyMark, ...]:
    by_party: dict[str, list[Cell]] = {}
    for cell in cells:
        by_party.setdefault(cell.performer.party, []).append(cell)
    return tuple(
        PartyMark(
            party=party,
            label=own[0].performer.label,
            kind=own[0].performer.kind,
            open=any(c.state is not RowStatus.DONE for c in own),
            marked=any(c.state is RowStatus.DONE and c.done_by != "этап" for c in own),
        )
        for party, own in by_party.items()
    )


def summarise(
    row: BoardRow,
    cells: Sequence[Cell],
    now: datetime,
    counts: StageCounts | None = None,
    run: LastRun | None = None,
) -> SessionSummary:
    """One row of one session from its cells (every performer, every period)."""
    by_party: dict[str, list[Cell]] = {}
    for cell in cells:
        by_party.setdefault(cell.performer.party, []).append(cell)
    late = [c for c in cells if c.state is RowStatus.LATE]
    late_labels = list(dict.fromkeys(c.performer.label for c in late))
    waiting = next((c for c in cells if c.state is RowStatus.WAITING), None)
    done_late = [
        lateness
        for c in cells
        if c.state is RowStatus.DONE and (lateness := c.lateness(now)) is not None
    ]
    return SessionSummary(
        row=row,
        state=overall(c.state for c in cells),
        term=format_windows(row.windows, row.zone, row.external),
        performers_done=sum(
            all(c.state is RowStatus.DONE for c in own) for own in by_party.values()
        ),
        performers_total=len(by_party),
        periods_done=sum(c.state is RowStatus.DONE for c in cells),
        periods_total=len(cells),
        late_count=len(late),
        lateness=max((c.lateness(now) or timedelta(0) for c in late), default=None),
        late_parties=tuple(late_labels[:_SHOWN_PARTIES]),
        late_more=max(0, len(late_labels) - _SHOWN_PARTIES),
        done_late=max(done_late, default=None),
        waiting_reason=waiting.reason if waiting else "",
        waiting_on=waiting.waiting_on if waiting else "",
        counts=counts_of(row.automated, counts) if row.tracked_by_stage else (),
        run=run,
        parties=_parties(cells),
    )


def board_sections(
    rows: Sequence[BoardRow],
    cells: Iterable[Cell],
    now: datetime,
    counts: Mapping[str, StageCounts] | None = None,
    runs: Mapping[int, LastRun] | None = None,
    sessions: Sequence[str] | None = None,
    state: RowStatus | None = None,
) -> list[Section]:
    """The board of one plan: its rows in plan order under their sections, each with a
    summary per session (`sessions` in the order shown; None: every session, in the order the
    rows carry them). `state` keeps only the summaries in that state (and the rows that have
    one)."""
    by_stage: dict[int, list[Cell]] = {}
    for cell in cells:
        by_stage.setdefault(cell.row.plan_stage_id, []).append(cell)
    order = {code: n for n, code in enumerate(sessions)} if sessions is not None else None
    grouped: dict[str, list[BoardRow]] = {}
    for row in sorted(rows, key=lambda r: (r.position, r.plan_stage_id)):
        if order is None or row.session_code in order:
            grouped.setdefault(row.stage_key, []).append(row)
    sections: list[Section] = []
    for stage_key, same in grouped.items():
        if order is not None:
            same.sort(key=lambda r: order[r.session_code])
        summaries = [
            summarise(
                row,
                by_stage.get(row.plan_stage_id, []),
                now,
                (counts or {}).get(row.session_code),
                (runs or {}).get(row.plan_stage_id),
            )
            for row in same
        ]
        first = same[0]
        line = BoardLine(
            stage_key=stage_key,
            number=first.row or str(first.position + 1),
            numbered=first.row is not None,
            section=first.section,
            title=first.title,
            performers=first.performers,
            sessions=tuple(summaries),
        )
        if sections and sections[-1].title == first.section:
            last = sections[-1]
            sections[-1] = Section(last.title, (*last.lines, line))
        else:
            sections.append(Section(first.section, (line,)))
    return only_state(sections, state)


def state_totals(sections: Iterable[Section]) -> dict[RowStatus, int]:
    """How many (row, session) summaries are in each state, every state listed."""
    totals = dict.fromkeys(RowStatus, 0)
    for section in sections:
        for line in section.lines:
            for summary in line.sessions:
                totals[summary.state] += 1
    return totals


@dataclass(frozen=True, slots=True)
class PartyLine:
    """One performer of one row in one session (the МОУО drill-down)."""

    row: BoardRow
    party: str
    label: str
    name: str
    kind: str
    state: RowStatus
    term: str
    periods_done: int
    periods_total: int
    lateness: timedelta | None
    reason: str
    done_at: datetime | None
    done_by: str
    marked: bool  # some period marked by hand (can be reopened)

    @property
    def state_ru(self) -> str:
        return STATE_RU[self.state]

    @property
    def manual(self) -> bool:
        return not self.row.tracked_by_stage

    @property
    def lateness_ru(self) -> str:
        return f"просрочен на {format_lateness(self.lateness)}" if self.lateness else ""

    @property
    def open(self) -> bool:
        return self.state is not RowStatus.DONE


def party_lines(cells: Iterable[Cell], parties: Iterable[str], now: datetime) -> list[PartyLine]:
    """A line per (row, performer) of the given performers, in plan order (rows), then in the
    order the performers come (the directory's)."""
    wanted = set(parties)
    grouped: dict[tuple[int, str], list[Cell]] = {}
    for cell in cells:
        if cell.performer.party in wanted:
            grouped.setdefault((cell.row.plan_stage_id, cell.performer.party), []).append(cell)
    lines = []
    for own in grouped.values():
        row, performer = own[0].row, own[0].performer
        late = [c.lateness(now) for c in own if c.state is RowStatus.LATE]
        reason = next((c.reason for c in own if c.state is not RowStatus.DONE and c.reason), "")
        done = [c for c in own if c.done_at is not None]
        latest = max(done, key=lambda c: c.done_at or now, default=None)
        lines.append(
            PartyLine(
                row=row,
                party=performer.party,
                label=performer.label,
                name=performer.name,
                kind=performer.kind,
                state=overall(c.state for c in own),
                term=format_windows(row.windows, row.zone, row.external),
                periods_done=len(done),
                periods_total=len(own),
                lateness=max((d for d in late if d is not None), default=None),
                reason=reason,
                done_at=latest.done_at if latest else None,
                done_by=latest.done_by if latest else "",
                marked=any(c.done_by != "этап" for c in done),
            )
        )
    return sorted(lines, key=lambda line: (line.row.position, line.row.plan_stage_id))


def only_state(sections: Iterable[Section], state: RowStatus | None) -> list[Section]:
    """The sections with only the summaries in `state` (and the rows and sections that keep
    one); every one when `state` is None."""
    if state is None:
        return list(sections)
    out = []
    for section in sections:
        lines = tuple(
            replace(line, sessions=kept)
            for line in section.lines
            if (kept := tuple(s for s in line.sessions if s.state is state))
        )
        if lines:
            out.append(Section(section.title, lines))
    return out
