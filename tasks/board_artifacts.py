"""The plan-schedule board as Prefect artifacts, for a coordinator who lives in the Prefect UI:
per region and session a table (one line per plan row: its performers, deadline in local
time, overall state, done x/y, late, what it waits for) and a markdown artifact with the
season timeline, whose PNG is written under `<out>/board/<plan>/<session>/timeline.png` and
served by `rcoi web` at `/board/timeline/<plan>/<session>.png`. Refreshed by the watchdog.

Artifacts are created only inside a flow or task run (outside one Prefect warns that it will
refuse them); the picture is written either way, so that the board page can show it."""

from __future__ import annotations

import textwrap
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

from prefect.context import get_run_context
from prefect.exceptions import MissingContextError

from config.settings import Settings
from tasks.adapters.board import BoardScope, current_occurrence
from tasks.adapters.inform_files import write_bytes
from tasks.artifacts import EMPTY, artifact_key, local_time_text, markdown_artifact, table_artifact
from tasks.domain.board import STATE_RU, BoardRow, Cell, RowStatus, overall
from tasks.domain.board_timeline import render_timeline, session_date, timeline_rows_for_session

__all__ = [
    "BOARD_ARTIFACT",
    "HEADERS",
    "TIMELINE_ARTIFACT",
    "board_rows",
    "publish_board_artifacts",
    "session_label",
    "shown_occurrence",
    "timeline_path",
    "timeline_url",
]

BOARD_ARTIFACT = "board"
TIMELINE_ARTIFACT = "board-timeline"
HEADERS = (
    "строка",
    "этап",
    "исполнители",
    "срок",
    "состояние",
    "выполнено",
    "просрочено",
    "ожидание",
)
_TITLE_CHARS = 200  # a road map's title runs to 1 200 characters: the table keeps its start


def timeline_path(settings: Settings, plan_id: str, session: str) -> Path:
    """Where the session's timeline PNG lives (the web helper serves it from there)."""
    return settings.out_dir / "board" / plan_id / session / "timeline.png"


def timeline_url(settings: Settings, plan_id: str, session: str) -> str:
    base = settings.public_base_url.rstrip("/")
    return f"{base}/board/timeline/{quote(plan_id, safe='')}/{quote(session, safe='')}.png"


def session_label(scope: BoardScope, session: str) -> str:
    """'основной срок 06.12.2017', 'весь учебный год (2023-24)'."""
    label = scope.labels.get(session, "")
    when = session_date(session)
    if when is None:
        return f"{label} ({session})" if label else session
    return f"{label} {when}".strip()


def _deadline(row: BoardRow, number: int) -> str:
    """The occurrence's deadline in local time; a reference to an outside schedule as written."""
    if row.external is not None:
        return f"{row.external} (внешний график)"
    due = row.windows[number][1]
    text = local_time_text(due, row.zone, deadline=True) if due is not None else EMPTY
    if len(row.windows) > 1:
        text += f" · период {number + 1} из {len(row.windows)}"
    return text


def _performers(row: BoardRow, cells: Sequence[Cell]) -> str:
    if row.performers:
        return ", ".join(row.performers)
    return ", ".join(dict.fromkeys(cell.performer.label for cell in cells)) or EMPTY


def _waiting(cells: Sequence[Cell]) -> str:
    first = next((cell for cell in cells if cell.state is RowStatus.WAITING), None)
    if first is None:
        return EMPTY
    return f"{first.reason} ({first.waiting_on})" if first.waiting_on else first.reason


def shown_occurrence(row: BoardRow, cells: Sequence[Cell], now: datetime) -> int:
    """The period a table line speaks of: the first one some performer has not done (a
    month missed first, then the one under way, then the next to come); when every period
    is done or none has a performer, the current one."""
    open_ = sorted({cell.occurrence for cell in cells if cell.state is not RowStatus.DONE})
    return open_[0] if open_ else current_occurrence(row, now)


def board_rows(
    rows: Sequence[BoardRow], cells: Sequence[Cell], now: datetime
) -> list[dict[str, object]]:
    """One table line per plan row, in plan order. «срок» and «выполнено» are of the period
    still open (`shown_occurrence`: a monthly report's month missed, or this month's);
    «состояние» and «просрочено» count every period, so that a month missed stays visible."""
    by_row: dict[int, list[Cell]] = {}
    for cell in cells:
        by_row.setdefault(cell.row.plan_stage_id, []).append(cell)
    table: list[dict[str, object]] = []
    for number, row in enumerate(rows, start=1):
        found = by_row.get(row.plan_stage_id, [])
        shown = shown_occurrence(row, found, now)
        parties = {cell.performer.party for cell in found if cell.occurrence == shown}
        done = {
            cell.performer.party
            for cell in found
            if cell.occurrence == shown and cell.state is RowStatus.DONE
        }
        table.append(
            {
                "строка": row.row or str(number),
                "этап": textwrap.shorten(
                    " ".join(row.title.split()), _TITLE_CHARS, placeholder=" …"
                ),
                "исполнители": _performers(row, found),
                "срок": _deadline(row, shown),
                "состояние": STATE_RU[overall(cell.state for cell in found)],
                "выполнено": f"{len(done)}/{len(parties)}" if parties else EMPTY,
                "просрочено": sum(cell.state is RowStatus.LATE for cell in found),
                "ожидание": _waiting(found),
            }
        )
    return table


def _in_run() -> bool:
    try:
        get_run_context()
    except MissingContextError:
        return False
    return True


def _markdown(
    scope: BoardScope, session: str, label: str, url: str, table: list[dict[str, object]], when: str
) -> str:
    counts = {
        state: sum(line["состояние"] == STATE_RU[state] for line in table) for state in RowStatus
    }
    tally = " · ".join(f"{STATE_RU[state]}: {count}" for state, count in counts.items() if count)
    table_key = artifact_key(BOARD_ARTIFACT, scope.campaign_code, session)
    return "\n".join(
        [
            f"### {scope.title}",
            "",
            f"**{label}** — на {when}. Строк: {len(table)}" + (f" ({tally})." if tally else "."),
            "",
            f"![Ход плана-графика: {label}]({url})",
            "",
            f"Строки плана — в табличном артефакте `{table_key}`.",
        ]
    )


# A picture no state changed since is drawn again only when it is this old (today's line moves).
REDRAW_AFTER_S = 3600


def publish_board_artifacts(
    settings: Settings,
    scope: BoardScope,
    cells: Sequence[Cell],
    now: datetime,
    redraw: bool = True,
) -> list[str]:
    """For each session of `scope`: the timeline PNG written (atomically; with `redraw`
    False, only when missing or older than an hour — drawing the Kuzbass road map takes
    seconds every 15 minutes), and inside a run the board's table artifact and the
    timeline's markdown artifact; returns their keys."""
    in_run = _in_run()
    keys: list[str] = []
    for session in scope.sessions.values():
        rows, session_cells = timeline_rows_for_session(scope.rows, cells, session)
        zone = rows[0].zone if rows else "UTC"
        label = session_label(scope, session)
        path = timeline_path(settings, scope.campaign_code, session)
        if redraw or not path.is_file() or time.time() - path.stat().st_mtime > REDRAW_AFTER_S:
            picture = render_timeline(rows, session_cells, now, scope.title, zone, label)
            write_bytes(path, picture)
        if not in_run:
            continue
        when = local_time_text(now, zone)
        table = board_rows(rows, session_cells, now)
        table_artifact(
            BOARD_ARTIFACT,
            scope.campaign_code,
            session,
            table,
            f"Доска плана-графика: {scope.title} — {label}, на {when}",
            zone,
        )
        markdown_artifact(
            TIMELINE_ARTIFACT,
            scope.campaign_code,
            session,
            _markdown(
                scope,
                session,
                label,
                timeline_url(settings, scope.campaign_code, session),
                table,
                when,
            ),
            f"Временная шкала плана-графика — {label}, на {when}",
        )
        keys += [
            artifact_key(BOARD_ARTIFACT, scope.campaign_code, session),
            artifact_key(TIMELINE_ARTIFACT, scope.campaign_code, session),
        ]
    return keys
