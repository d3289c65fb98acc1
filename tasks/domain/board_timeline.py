"""The season timeline of the plan-schedule board, as PNG bytes (matplotlib, Agg).

A Gantt-like picture: one line per plan row in plan order, top to bottom, labelled by its row
number and a shortened title; one bar per occurrence window on that line, coloured by the
row's overall state across its performers for that occurrence (`board.overall`); a vertical
«сегодня» line at `now`; dates in the plan's local zone. A row with a deadline only is a
diamond at the deadline; a row without dates (a reference to an external schedule) is a
hatched box at the left edge, «внешний график».

Large plans (the Kuzbass road map: 440+ rows) stay readable by growing in height, not by
shrinking: rows are grouped under their section (and, when several sessions are drawn, their
session) headings on a shaded band, every other line is striped to lead the eye from label
to bar, the dates are written above and below the plot and late rows have red labels. The
line pitch shrinks from 0.30 in (small plans) to 0.16 in (7 pt labels) and the figure is
capped at `MAX_HEIGHT_IN` (beyond ~700 lines the pitch shrinks further to fit it).

Built with `matplotlib.figure.Figure` and the Agg canvas directly, as `inform_charts` does:
no pyplot state, DejaVu Sans named on every text, a fixed dpi and no «Software» stamp.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from io import BytesIO
from typing import Any
from zoneinfo import ZoneInfo

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle

from tasks.domain.artifacts import local_time_text
from tasks.domain.board import STATE_RU, BoardRow, Cell, RowStatus, overall

__all__ = [
    "DPI",
    "EXTERNAL_RU",
    "MAX_HEIGHT_IN",
    "STATE_COLOURS",
    "TODAY_COLOUR",
    "WIDTH_IN",
    "occurrence_states",
    "render_timeline",
    "row_label",
    "session_date",
    "timeline_rows_for_session",
]

DPI = 100
WIDTH_IN = 15.0  # 1500 px: the labels take about a third, the dates the rest
MAX_HEIGHT_IN = 120.0  # 12 000 px: a sane cap (Agg's own limit is 2^16 px)
FONT = "DejaVu Sans"
# Green/red for done/late, amber for waiting on someone, blue for under way, grey for not yet.
STATE_COLOURS: Mapping[RowStatus, str] = {
    RowStatus.DONE: "#2e7d32",
    RowStatus.LATE: "#c62828",
    RowStatus.WAITING: "#ffb300",
    RowStatus.RUNNING: "#1e88e5",
    RowStatus.NOT_STARTED: "#9e9e9e",
}
TODAY_COLOUR = "#6a1b9a"  # purple: no state uses it
EXTERNAL_RU = "внешний график"
NO_DATES_RU = "без срока"
_LEGEND_ORDER = (
    RowStatus.LATE,
    RowStatus.WAITING,
    RowStatus.RUNNING,
    RowStatus.NOT_STARTED,
    RowStatus.DONE,
)
_LATE_LABEL = "#b71c1c"
_SECTION_BAND = "#e3e7ec"
_SESSION_BAND = "#c5cdd6"
_STRIPE = "#f4f5f7"
_GRID = "#d0d4da"
_TITLE_CHARS = 58  # a row's title in its label, cut with «…»
_EPOCH = date(1970, 1, 1)
_MONTHS_RU = ("янв", "фев", "мар", "апр", "май", "июн", "июл", "авг", "сен", "окт", "ноя", "дек")


@dataclass(frozen=True, slots=True)
class _Line:
    """One line of the picture: a heading (session or section) or a plan row."""

    kind: str  # 'session' | 'section' | 'row'
    text: str
    row: BoardRow | None = None


def timeline_rows_for_session(
    rows: Sequence[BoardRow], cells: Sequence[Cell], session_code: str
) -> tuple[list[BoardRow], list[Cell]]:
    """The rows of one session, in plan order, and their cells: one session's picture."""
    chosen = [row for row in rows if row.session_code == session_code]
    ids = {row.plan_stage_id for row in chosen}
    return chosen, [cell for cell in cells if cell.row.plan_stage_id in ids]


def occurrence_states(cells: Sequence[Cell]) -> dict[tuple[int, int], RowStatus]:
    """(plan stage, occurrence) -> the overall state of its performers' cells."""
    states: dict[tuple[int, int], list[RowStatus]] = {}
    for cell in cells:
        states.setdefault((cell.row.plan_stage_id, cell.occurrence), []).append(cell.state)
    return {key: overall(found) for key, found in states.items()}


def row_label(row: BoardRow, number: int) -> str:
    """'2.2.15 Автоматизированное распределение участников…': the row's number in the source
    (its place in the plan when the source numbers none) and its title, cut to one line."""
    title = " ".join(row.title.split())
    short = textwrap.shorten(title, _TITLE_CHARS, placeholder=" …") if title else "—"
    if len(short) < 4:  # one word longer than the line: cut inside it
        short = title[: _TITLE_CHARS - 1] + "…"
    return f"{row.row or number}  {short}"


def session_date(code: str) -> str | None:
    """'06.12.2017' for an exam session's code '2017-12-06'; None for a year session."""
    try:
        return f"{date.fromisoformat(code):%d.%m.%Y}"
    except ValueError:
        return None


def _session_text(code: str) -> str:
    day = session_date(code)
    return f"срок {day}" if day else f"учебный год {code}"  # the year session: '2023-24'


def _lines(rows: Sequence[BoardRow]) -> list[_Line]:
    """Rows in plan order under their headings: by session when several are drawn (in the
    order they first appear), then by section (a heading wherever the section changes)."""
    sessions = list(dict.fromkeys(row.session_code for row in rows))
    several = len(sessions) > 1
    ordered = sorted(rows, key=lambda row: sessions.index(row.session_code)) if several else rows
    lines: list[_Line] = []
    session: str | None = None
    section: str | None = None
    for number, row in enumerate(ordered, start=1):
        if several and row.session_code != session:
            session, section = row.session_code, None
            lines.append(_Line("session", _session_text(row.session_code)))
        if row.section and row.section != section:
            lines.append(_Line("section", row.section))
        section = row.section
        lines.append(_Line("row", row_label(row, row.position + 1 if several else number), row))
    return lines


def _local(moment: datetime, zone: ZoneInfo) -> float:
    """Days since 1970-01-01 of the local wall-clock time: the axis shows local dates."""
    local = moment.astimezone(zone)
    seconds = local.hour * 3600 + local.minute * 60 + local.second
    return (local.date() - _EPOCH).days + seconds / 86400


def _extent(rows: Sequence[BoardRow], now: datetime, zone: ZoneInfo) -> tuple[float, float]:
    """The dates drawn: every window, padded; `now` too when it is near the plan's span."""
    points = [
        _local(moment, zone)
        for row in rows
        for window in row.windows
        for moment in window
        if moment is not None
    ]
    today = _local(now, zone)
    if not points:
        return today - 15.0, today + 15.0
    low, high = min(points), max(points)
    span = max(high - low, 1.0)
    if low - span * 0.25 <= today <= high + span * 0.25:
        low, high = min(low, today), max(high, today)
        span = max(high - low, 1.0)
    pad = span * 0.03
    return low - pad - span * 0.13, high + pad  # room at the left for the undated boxes


def _date_ticks(low: float, high: float) -> tuple[list[float], list[str]]:
    """Every few days for a short plan ('06.12'), every month for a season ('янв' over the
    year), in Russian."""
    first, last = _EPOCH + timedelta(days=math.ceil(low)), _EPOCH + timedelta(days=int(high))
    if high - low <= 75:
        step = max(1, round((high - low) / 14))
        days = [first + timedelta(days=n) for n in range(0, (last - first).days + 1, step)]
        return [float((d - _EPOCH).days) for d in days], [f"{d:%d.%m}" for d in days]
    months = []
    month = date(first.year, first.month, 1)
    if month < first:
        month = _next_month(month)
    while month <= last:
        months.append(month)
        month = _next_month(month)
    labels = [f"{_MONTHS_RU[m.month - 1]}\n{m.year}" for m in months]
    return [float((m - _EPOCH).days) for m in months], labels


def _next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def _date_axis(ax: Axes, low: float, high: float, size: float) -> None:
    """The dates above and below the plot, with a light line at each."""
    positions, labels = _date_ticks(low, high)
    ax.set_xticks(positions, labels)
    ax.tick_params(axis="x", top=True, labeltop=True, labelfontfamily=FONT, labelsize=size)
    ax.grid(axis="x", color=_GRID, linewidth=0.6, zorder=0)


def _pitch(lines: int, margins: float) -> tuple[float, float]:
    """Inches per line and the label font size: roomy for a session of a dozen rows, compact
    for a road map, and within `MAX_HEIGHT_IN` whatever the count."""
    if lines <= 40:
        pitch, size = 0.30, 9.0
    elif lines <= 120:
        pitch, size = 0.22, 8.0
    else:
        pitch, size = 0.16, 7.0
    room = (MAX_HEIGHT_IN - margins) / max(lines, 1)
    if pitch > room:
        size = max(3.0, size * room / pitch)
        pitch = room
    return pitch, size


@dataclass(frozen=True, slots=True)
class _Layout:
    """Where things go, in inches: the header (title, subtitle, legend) and the dates and
    today's mark above and below the plot are fixed; the plot takes the rest."""

    title_lines: int
    size: float
    pitch: float
    lines: int
    day_ticks: bool

    @property
    def header(self) -> float:
        return 0.15 + 0.25 * self.title_lines + 0.30 + 0.40

    @property
    def ticks(self) -> float:
        rows = 1 if self.day_ticks else 2
        return (rows * self.size * 1.3 + 8) / 72

    @property
    def today(self) -> float:
        return (self.size * 1.7 + 8) / 72

    @property
    def top(self) -> float:
        return self.header + self.ticks + self.today

    @property
    def bottom(self) -> float:
        return self.ticks + self.today + 0.2

    @property
    def height(self) -> float:
        return self.top + self.bottom + self.pitch * max(self.lines, 3)


def render_timeline(
    rows: Sequence[BoardRow],
    cells: Sequence[Cell],
    now: datetime,
    title: str,
    zone: str,
    session_label: str | None = None,
) -> bytes:
    """The season timeline of `rows` (plan order) as a PNG: bars per occurrence window
    coloured by state at `now`, today's line, a legend of the Russian state names."""
    if now.tzinfo is None:
        raise ValueError("the timeline's clock must be timezone-aware")
    tz = ZoneInfo(zone)
    lines = _lines(rows)
    states = occurrence_states(cells)
    low, high = _extent(rows, now, tz)
    span = high - low
    heading = textwrap.wrap(" ".join(title.split()), 120, max_lines=2, placeholder=" …")
    probe = _Layout(len(heading) or 1, 9.0, 0.0, 0, high - low <= 75)
    pitch, size = _pitch(len(lines), probe.top + probe.bottom)
    layout = _Layout(probe.title_lines, size, pitch, len(lines), probe.day_ticks)
    figure = Figure(figsize=(WIDTH_IN, layout.height), dpi=DPI)
    FigureCanvasAgg(figure)  # attaches itself: labels are measured on it
    ax = figure.add_axes((0.3, 0.1, 0.6, 0.8))
    bar = 0.64

    labels: list[str] = []
    for y, line in enumerate(lines):
        if line.kind != "row":
            band = _SESSION_BAND if line.kind == "session" else _SECTION_BAND
            ax.axhspan(y - 0.5, y + 0.5, color=band, zorder=0.5, linewidth=0)
            ax.text(
                low + span * 0.004,
                y,
                textwrap.shorten(line.text, 150, placeholder=" …"),
                va="center",
                ha="left",
                fontfamily=FONT,
                fontsize=size + (1.0 if line.kind == "session" else 0.5),
                fontweight="bold",
                color="#263238",
                zorder=3,
                clip_on=True,
            )
            labels.append("")
            continue
        assert line.row is not None
        if y % 2:
            ax.axhspan(y - 0.5, y + 0.5, color=_STRIPE, zorder=0.4, linewidth=0)
        labels.append(line.text)
        _draw_row(ax, line.row, y, states, tz, low, span, bar, size)

    ax.set_yticks(range(len(lines)), labels)
    late = {
        y
        for y, line in enumerate(lines)
        if line.row is not None
        and any(
            states.get((line.row.plan_stage_id, n)) is RowStatus.LATE
            for n in range(len(line.row.windows))
        )
    }
    for y, label in enumerate(ax.get_yticklabels()):
        label.set_fontfamily(FONT)
        label.set_fontsize(size)
        if y in late:
            label.set_color(_LATE_LABEL)
    ax.tick_params(axis="y", length=0, pad=4)
    ax.set_ylim(max(len(lines), 3) - 0.5, -0.5)  # the first row on top
    if not lines:
        ax.text(
            (low + high) / 2,
            1.0,
            "в этом сроке нет строк плана",
            ha="center",
            va="center",
            fontfamily=FONT,
            fontsize=11,
            color="#757575",
        )
    ax.set_xlim(low, high)
    _date_axis(ax, low, high, size)
    ax.spines[["right", "left"]].set_visible(False)
    _place(ax, layout)
    _today(ax, now, tz, low, high, layout)
    _header(figure, rows, cells, now, heading, zone, session_label, layout)
    return _png(figure)


def _place(ax: Axes, layout: _Layout) -> None:
    """The plot right of its widest label, between the header and the dates below."""
    longest = sorted(ax.get_yticklabels(), key=lambda label: len(label.get_text()))[-40:]
    widest = max((label.get_window_extent().width for label in longest), default=0.0)
    left = (widest / DPI + 0.25) / WIDTH_IN
    right = 0.3 / WIDTH_IN
    bottom = layout.bottom / layout.height
    top = layout.top / layout.height
    ax.set_position((left, bottom, 1 - left - right, 1 - top - bottom))


def _draw_row(
    ax: Axes,
    row: BoardRow,
    y: int,
    states: Mapping[tuple[int, int], RowStatus],
    tz: ZoneInfo,
    low: float,
    span: float,
    bar: float,
    size: float,
) -> None:
    least = span * 0.004  # a window of minutes (the topics' publication) stays visible
    for number, (start, due) in enumerate(row.windows):
        state = states.get((row.plan_stage_id, number), RowStatus.NOT_STARTED)
        colour = STATE_COLOURS[state]
        if start is None and due is None:
            _undated(ax, row, y, colour, low, span, bar, size)
        elif start is None or due is None:  # a deadline (or a start) only: a milestone
            moment = due if due is not None else start
            assert moment is not None
            ax.plot(
                [_local(moment, tz)],
                [y],
                marker="D" if due is not None else ">",
                markersize=size * 0.95,
                color=colour,
                markeredgecolor="white",
                markeredgewidth=0.6,
                zorder=3,
            )
        else:
            left, right = _local(start, tz), _local(due, tz)
            width = max(right - left, least)
            ax.barh(
                y,
                width,
                left=right - width if right - left < least else left,
                height=bar,
                color=colour,
                edgecolor="white",  # neighbouring monthly occurrences stay apart
                linewidth=0.6,
                zorder=2,
            )


def _undated(
    ax: Axes,
    row: BoardRow,
    y: int,
    colour: str,
    low: float,
    span: float,
    bar: float,
    size: float,
) -> None:
    """A hatched box at the left: the row's dates are in someone else's schedule."""
    width = span * 0.115
    ax.add_patch(
        Rectangle(
            (low + span * 0.004, y - bar / 2),
            width,
            bar,
            facecolor="white",
            edgecolor=colour,
            hatch="////",
            linewidth=0.9,
            zorder=2,
        )
    )
    ax.text(
        low + span * 0.004 + width / 2,
        y,
        EXTERNAL_RU if row.external else NO_DATES_RU,
        ha="center",
        va="center",
        fontfamily=FONT,
        fontsize=size * 0.9,
        color="#212121",
        zorder=3,
        bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.4},
    )


def _today(ax: Axes, now: datetime, tz: ZoneInfo, low: float, high: float, layout: _Layout) -> None:
    """Today's line with its date above and below the dates; an arrow at the edge when today
    is off the plan."""
    today = _local(now, tz)
    text = f"сегодня {now.astimezone(tz):%d.%m.%Y}"
    style: dict[str, Any] = {
        "fontfamily": FONT,
        "fontsize": layout.size,
        "color": TODAY_COLOUR,
        "fontweight": "bold",
    }
    beyond = layout.ticks * 72 + 2  # points: clear of the date labels
    if low <= today <= high:
        ax.axvline(today, color=TODAY_COLOUR, linewidth=1.6, zorder=4)
        for where, offset, va in ((1.0, beyond, "bottom"), (0.0, -beyond, "top")):
            ax.annotate(
                text,
                (today, where),
                xycoords=ax.get_xaxis_transform(),
                xytext=(0, offset),
                textcoords="offset points",
                ha="center",
                va=va,
                zorder=5,
                annotation_clip=False,
                bbox={"facecolor": "white", "edgecolor": TODAY_COLOUR, "pad": 1.5},
                **style,
            )
        return
    after = today > high
    ax.annotate(
        f"{text} →" if after else f"← {text}",
        (1.0 if after else 0.0, 1.0),
        xycoords="axes fraction",
        xytext=(0, beyond),
        textcoords="offset points",
        ha="right" if after else "left",
        va="bottom",
        annotation_clip=False,
        **style,
    )


def _legend(figure: Figure, top: float) -> None:
    handles: list[Patch | Line2D] = [
        Patch(facecolor=STATE_COLOURS[state], label=STATE_RU[state]) for state in _LEGEND_ORDER
    ]
    handles += [
        Patch(facecolor="white", edgecolor="#757575", hatch="////", label=EXTERNAL_RU),
        Line2D(
            [],
            [],
            marker="D",
            linestyle="none",
            color="#757575",
            markersize=7,
            label="срок без даты начала",
        ),
        Line2D([], [], color=TODAY_COLOUR, linewidth=1.6, label="сегодня"),
    ]
    figure.legend(
        handles=handles,
        loc="upper center",
        bbox_to_anchor=(0.5, top),
        ncols=len(handles),
        prop={"family": FONT, "size": 9},
        frameon=False,
        borderaxespad=0.0,
    )


def _header(
    figure: Figure,
    rows: Sequence[BoardRow],
    cells: Sequence[Cell],
    now: datetime,
    heading: list[str],
    zone: str,
    session_label: str | None,
    layout: _Layout,
) -> None:
    """Title, then where and when with the count of rows per state, then the legend."""
    states = occurrence_states(cells)
    counted = [
        overall(
            states.get((row.plan_stage_id, n), RowStatus.NOT_STARTED)
            for n in range(len(row.windows))
        )
        for row in rows
    ]
    tally = " · ".join(
        f"{STATE_RU[state]}: {counted.count(state)}"
        for state in _LEGEND_ORDER
        if counted.count(state)
    )
    inch = 1 / layout.height
    figure.text(
        0.5,
        1 - 0.15 * inch,
        "\n".join(heading) or "План",
        ha="center",
        va="top",
        fontfamily=FONT,
        fontsize=13,
        fontweight="bold",
    )
    where = f"{session_label}, " if session_label else ""
    figure.text(
        0.5,
        1 - (0.15 + 0.25 * layout.title_lines + 0.05) * inch,
        f"{where}на {local_time_text(now, zone)} · строк {len(rows)}"
        + (f" — {tally}" if tally else ""),
        ha="center",
        va="top",
        fontfamily=FONT,
        fontsize=10,
        color="#455a64",
    )
    _legend(figure, 1 - (0.15 + 0.25 * layout.title_lines + 0.35) * inch)


def _png(figure: Figure) -> bytes:
    buffer = BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()
