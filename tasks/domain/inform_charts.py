"""Charts of the inform stage's statistics, as PNG bytes (matplotlib, Agg).

Figures are built with `matplotlib.figure.Figure` and the Agg canvas directly: no pyplot, no
global figure manager, so charts can be drawn in threads and worker processes at once. Every
text names DejaVu Sans (bundled with matplotlib, full Cyrillic) instead of trusting rcParams;
the dpi is fixed and the PNG carries no «Software» stamp, so the same statistics give the same
bytes with the same matplotlib.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from io import BytesIO

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from tasks.domain.inform import OUTCOMES, Statistics, Tally, percent_text

__all__ = [
    "CHART_TITLES_RU",
    "charts",
    "outcomes_by_category_png",
    "outcomes_by_form_png",
    "pass_rate_by_mouo_png",
]

DPI = 120
WIDTH_IN = 9.0  # 1080 px: fills the width of an A4 page at ~150 dpi
FONT = "DejaVu Sans"
CHART_TITLES_RU = {
    "pass_rate_by_mouo.png": "Доля зачета по МОУО",
    "outcomes_by_category.png": "Результаты по категориям участников",
    "outcomes_by_form.png": "Результаты по формам",
}
# Legend texts of the outcomes (plural: they name groups of participants).
_OUTCOME_LEGEND = {
    "passed": "зачет",
    "failed": "незачет",
    "absent": "не явились",
    "not_finished": "не закончили (ИС-08)",
    "removed": "удалены (ИС-09)",
    "not_graded": "не оценено",
    "no_record": "нет сведений ИС-05",
}
# Distinguishable in grey print too: green/red for the results, neutral tones for the rest.
_OUTCOME_COLOURS = {
    "passed": "#2e7d32",
    "failed": "#c62828",
    "absent": "#9e9e9e",
    "not_finished": "#f9a825",
    "removed": "#6a1b9a",
    "not_graded": "#64b5f6",
    "no_record": "#d7ccc8",
}
_BAR = "#1565c0"
_EMPTY = "#bdbdbd"
_LABEL_WIDTH = 34  # characters per line of a МОУО's or category's label (two lines at most)


def _png(figure: Figure) -> bytes:
    FigureCanvasAgg(figure)  # attaches itself to the figure
    buffer = BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()


def _label(text: str) -> str:
    """A long name on two lines, cut with «…» beyond them (МОУО names run to 70 characters)."""
    return "\n".join(textwrap.wrap(text, _LABEL_WIDTH, max_lines=2, placeholder=" …")) or "—"


def _no_data(ax: Axes) -> None:
    ax.text(
        0.5,
        0.5,
        "нет данных",
        transform=ax.transAxes,
        ha="center",
        va="center",
        fontfamily=FONT,
        fontsize=11,
        color="#757575",
    )


def _titles(figure: Figure, ax: Axes, title: str, subtitle: str) -> None:
    # suptitle and the axes title are both known to the constrained layout: nothing overlaps.
    figure.suptitle(title, fontfamily=FONT, fontsize=13, fontweight="bold")
    ax.set_title(subtitle, fontfamily=FONT, fontsize=9, color="#555555")


def pass_rate_by_mouo_png(stats: Statistics) -> bytes:
    """Horizontal bars: each МОУО's share of «зачет» among the graded, highest on top, the
    regional rate as a dashed line. A МОУО where nobody was graded is drawn as an empty bar
    labelled «нет оцененных работ», last."""
    rows = sorted(
        stats.by_mouo,
        key=lambda t: (t.pass_rate is None, -(t.pass_rate or 0.0), t.code),
    )
    height = 1.9 + 0.42 * max(len(rows), 1)
    figure = Figure(figsize=(WIDTH_IN, height), dpi=DPI, layout="constrained")
    ax = figure.add_subplot()
    positions = list(range(len(rows)))[::-1]  # first row at the top
    values = [t.pass_rate or 0.0 for t in rows]
    colours = [_BAR if t.pass_rate is not None else _EMPTY for t in rows]
    ax.barh(positions, values, color=colours, height=0.7)
    for y, row in zip(positions, rows, strict=True):
        text = (
            f"{percent_text(row.pass_rate)}  ({row.passed} из {row.graded})"
            if row.pass_rate is not None
            else "нет оцененных работ"
        )
        ax.text(
            (row.pass_rate or 0.0) + 1.0,
            y,
            text,
            va="center",
            fontfamily=FONT,
            fontsize=8.5,
            zorder=4,
            # readable where the regional line crosses it
            bbox={"facecolor": "white", "edgecolor": "none", "pad": 1.0, "alpha": 0.85},
        )
    ax.set_yticks(positions, [_label(f"{t.code} {t.name}") for t in rows])
    ax.set_xlim(0, 125)  # room right of a 100 % bar for its label
    ax.set_xticks([0, 20, 40, 60, 80, 100], ["0", "20", "40", "60", "80", "100 %"])
    ax.set_ylim(-0.7, len(rows) - 0.3)
    ax.tick_params(labelfontfamily=FONT, labelsize=9)
    ax.spines[["top", "right"]].set_visible(False)
    if stats.total.pass_rate is not None:
        line = ax.axvline(
            stats.total.pass_rate, color="#e65100", linestyle="--", linewidth=1.4, zorder=3
        )
        figure.legend(
            [line],
            [f"по региону: {percent_text(stats.total.pass_rate)}"],
            loc="outside lower center",
            prop={"family": FONT, "size": 9},
            frameon=False,
        )
    if not rows:
        _no_data(ax)
    ax.set_xlabel("доля зачета среди оцененных работ, %", fontfamily=FONT, fontsize=9)
    _titles(figure, ax, CHART_TITLES_RU["pass_rate_by_mouo.png"], _subtitle(stats.total))
    return _png(figure)


def _subtitle(total: Tally) -> str:
    return (
        f"{total.name}: участников {total.participants}, оценено {total.graded}, "
        f"зачет {total.passed}, незачет {total.failed}"
    )


def _share(count: int, total: int) -> float:
    return 100.0 * count / total if total else 0.0


def _stacked_png(rows: Sequence[Tally], title: str, subtitle: str) -> bytes:
    """100 %-stacked horizontal bars of outcomes per row, the row's count in its label: small
    groups (graduates of past years, СПО) stay readable next to the bulk of students."""
    height = 2.3 + 0.62 * max(len(rows), 1)
    figure = Figure(figsize=(WIDTH_IN, height), dpi=DPI, layout="constrained")
    ax = figure.add_subplot()
    positions = list(range(len(rows)))[::-1]
    left = [0.0] * len(rows)
    present = [o for o in OUTCOMES if any(t.outcomes[o] for t in rows)]
    for outcome in present:
        shares = [_share(t.outcomes[outcome], t.participants) for t in rows]
        ax.barh(
            positions,
            shares,
            left=left,
            height=0.6,
            color=_OUTCOME_COLOURS[outcome],
            label=_OUTCOME_LEGEND[outcome],
        )
        for y, x, share in zip(positions, left, shares, strict=True):
            if share >= 6.0:  # a label fits inside the segment
                ax.text(
                    x + share / 2,
                    y,
                    f"{share:.0f}",
                    ha="center",
                    va="center",
                    fontfamily=FONT,
                    fontsize=8,
                    color="white" if outcome in ("passed", "failed", "removed") else "black",
                )
        left = [a + b for a, b in zip(left, shares, strict=True)]
    ax.set_yticks(positions, [_label(t.name) + f"\n(n = {t.participants})" for t in rows])
    ax.set_xlim(0, 100)
    ax.set_xticks([0, 20, 40, 60, 80, 100], ["0", "20", "40", "60", "80", "100 %"])
    ax.tick_params(labelfontfamily=FONT, labelsize=9)
    ax.spines[["top", "right"]].set_visible(False)
    if not rows:
        _no_data(ax)
    ax.set_xlabel("доля от числа участников, %", fontfamily=FONT, fontsize=9)
    if present:
        figure.legend(
            loc="outside lower center",
            ncols=min(len(present), 4),
            prop={"family": FONT, "size": 9},
            frameon=False,
        )
    _titles(figure, ax, title, subtitle)
    return _png(figure)


def outcomes_by_category_png(stats: Statistics) -> bytes:
    return _stacked_png(
        stats.by_category, CHART_TITLES_RU["outcomes_by_category.png"], _subtitle(stats.total)
    )


def outcomes_by_form_png(stats: Statistics) -> bytes:
    rows = list(stats.by_form)
    if stats.oral.participants:
        rows.append(stats.oral)
    return _stacked_png(rows, CHART_TITLES_RU["outcomes_by_form.png"], _subtitle(stats.total))


def charts(stats: Statistics) -> dict[str, bytes]:
    """File name -> PNG, in the order the statistics report shows them."""
    return {
        "pass_rate_by_mouo.png": pass_rate_by_mouo_png(stats),
        "outcomes_by_category.png": outcomes_by_category_png(stats),
        "outcomes_by_form.png": outcomes_by_form_png(stats),
    }
