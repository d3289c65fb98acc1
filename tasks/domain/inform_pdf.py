"""PDF builders of the inform stage: results lists, the statistics report, the retake list.

Tables are paginated here (A4Pdf has no automatic page break): each page repeats the page
header and the table's header row, and every page ends with «Страница N из M», written once
the page count is known. Results and retake lists carry personal data and say so on every
page; the statistics report carries codes, organisation names and counts only. Builders
return bytes; the adapter writes the files.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from io import BytesIO

from tasks.domain.inform import (
    MARK_GROUPS,
    MARK_HEADERS_RU,
    OUTCOMES,
    ResultLine,
    RetakeLine,
    SessionInfo,
    Statistics,
    Tally,
    check_lines,
    form_text,
    mark_letter,
    percent_text,
    result_text,
    tally,
)
from tasks.domain.print_pdf import A4Pdf, Fonts
from tasks.errors import DataError

__all__ = [
    "PROCEDURE_RU",
    "results_list_pdf",
    "retake_list_pdf",
    "statistics_pdf",
]

PROCEDURE_RU = "Итоговое сочинение (изложение)"
OFFICIAL_USE = "Для служебного пользования"
PERSONAL_DATA_NOTE = (
    "Содержит персональные данные участников: не публиковать, не пересылать третьим лицам."
)
_MARKS_LEGEND = (
    "Т1, Т2 — требования 1 (объем) и 2 (самостоятельность); К1–К5 — критерии; "
    "«з» — зачет, «н» — незачет, «–» — не оценивалось."
)
# Who has no school of their own, as the ОО column of a МОУО list names them.
_NO_SCHOOL_RU = {
    "graduate": "выпускник прошлых лет",
    "spo": "обучающийся СПО",
    "foreign_school": "иностранная ОО",
    "certificate": "справка об обучении",
}
_PLURAL_RU = {
    "absent": "не явились",
    "not_finished": "не закончили",
    "removed": "удалены",
    "not_graded": "не оценено",
    "no_record": "нет сведений ИС-05",
}
_SHADE = 242  # every other row, to follow a line across a landscape page
_GREY = 110
_PT = 0.3528  # mm per point
_MIN_SHRINK = 0.8  # a cell's text is set at least this fraction of the table's size


@dataclass(frozen=True, slots=True)
class _Column:
    header: str  # «\n» splits a header over two lines
    width: float
    align: str = "L"  # L, C or R
    mono: bool = False


def _family(mono: bool, style: str) -> str:
    """Mono for codes; the project's Mono has no bold, so bold cells (headers) are Sans."""
    return "Mono" if mono and not style else "Sans"


class _Pdf(A4Pdf):
    """A4Pdf with a page frame (margins, bottom limit), truncating cells and paged tables."""

    def __init__(self, fonts: Fonts, title: str, landscape: bool) -> None:
        super().__init__(fonts, title)
        self.c_margin = 0
        self.landscape = landscape
        self.page_w, self.page_h = (297.0, 210.0) if landscape else (210.0, 297.0)
        self.left = 10.0 if landscape else 15.0
        self.right = self.page_w - self.left
        self.bottom = self.page_h - 16.0  # content ends here; the footer sits below
        self.y_pos = 0.0
        self.page_header: Callable[[], float] = lambda: 15.0  # draws, returns the first y
        self._widths: dict[tuple[str, float, str, bool], float] = {}

    def new_page(self) -> None:
        self.add_page(orientation="L" if self.landscape else "P")
        self.y_pos = self.page_header()

    def width_of(self, text: str, size: float, style: str = "", mono: bool = False) -> float:
        """The width of `text` in mm; cached, as a list repeats the same names and results
        (fpdf2's measuring is most of a long list's build time otherwise)."""
        key = (text, size, style, mono)
        width = self._widths.get(key)
        if width is None:
            self.set_font(_family(mono, style), style, size)
            width = self._widths[key] = self.get_string_width(text)
        return width

    def fit(self, text: str, width: float, size: float, style: str = "", mono: bool = False) -> str:
        """`text`, cut with «…» to fit `width` mm in the given font."""
        if self.width_of(text, size, style, mono) <= width:
            return text
        while text and self.width_of(text + "…", size, style, mono) > width:
            text = text[:-1]
        return text.rstrip() + "…"

    def shrink(
        self, text: str, width: float, size: float, style: str = "", mono: bool = False
    ) -> tuple[str, float]:
        """(text, size): a long value (a double surname) is set up to a fifth smaller before
        it is cut, so a name is rarely shortened."""
        natural = self.width_of(text, size, style, mono)
        if natural <= width:
            return text, size
        smaller = max(0.98 * size * width / natural, size * _MIN_SHRINK)  # 2 %: rounding
        return self.fit(text, width, smaller, style, mono), smaller

    def cell_lines(
        self, text: str, width: float, height: float, size: float, style: str, mono: bool
    ) -> tuple[list[str], float]:
        """A cell's lines and size: given «\n» breaks as they are; a text too long for one
        line even shrunk goes on two lines at 85 % when the row is high enough (a long school
        or category name), else it stays one line (shrunk, then cut)."""
        if "\n" in text:
            return text.split("\n"), size
        two_size = size * 0.85
        if (
            self.width_of(text, size * _MIN_SHRINK, style, mono) <= width
            or 2 * two_size * _PT * 1.2 > height - 0.6
        ):
            return [text], size
        first = ""
        for word in text.split(" "):
            candidate = f"{first} {word}".strip()
            if first and self.width_of(candidate, two_size, style, mono) > width:
                break
            first = candidate
        rest = text[len(first) :].strip()
        return ([first, rest] if rest else [first]), two_size

    def text_right(self, x_right: float, y: float, text: str, size: float, style: str = "") -> None:
        self.text_at(x_right - self.width_of(text, size, style), y, text, size, style)

    def row(
        self,
        columns: Sequence[_Column],
        cells: Sequence[str],
        height: float,
        size: float,
        style: str = "",
        shade: int | None = None,
    ) -> None:
        """One table row at the cursor; the cursor moves below it."""
        x, y = self.left, self.y_pos
        self.set_line_width(0.15)
        self.set_draw_color(_GREY)
        if shade is not None:
            self.set_fill_color(shade)
            self.rect(x, y, sum(c.width for c in columns), height, style="F")
        for column, text in zip(columns, cells, strict=True):
            self.rect(x, y, column.width, height)
            inner = column.width - 2.0
            parts, cell_size = self.cell_lines(text, inner, height, size, style, column.mono)
            line_h = cell_size * _PT * 1.2
            top = y + (height - line_h * len(parts)) / 2
            for part in parts:
                if not part:
                    top += line_h
                    continue
                shown, shown_size = self.shrink(part, inner, cell_size, style, column.mono)
                free = inner - self.width_of(shown, shown_size, style, column.mono)
                left = x + 1.0 + {"L": 0.0, "C": free / 2, "R": free}[column.align]
                # text() rather than cell(): a tenth of the cost, and the cells are measured
                self.text_at(
                    left,
                    top + (line_h - shown_size * _PT) / 2,
                    shown,
                    shown_size,
                    style,
                    _family(column.mono, style),
                )
                top += line_h
            x += column.width
        self.set_draw_color(0)
        self.y_pos = y + height

    def paged_table(
        self,
        columns: Sequence[_Column],
        rows: Sequence[Sequence[str]],
        *,
        row_h: float = 6.0,
        size: float = 8.5,
        head_h: float = 9.0,
        bold_rows: frozenset[int] = frozenset(),
        shade: bool = True,
    ) -> None:
        """Header row, then rows; on a page break a new page and the header row again."""
        head = [c.header for c in columns]
        if self.y_pos + head_h + row_h > self.bottom:
            self.new_page()
        self.row(columns, head, head_h, size - 1.0, "B", shade=225)
        for index, cells in enumerate(rows):
            if self.y_pos + row_h > self.bottom:
                self.new_page()
                self.row(columns, head, head_h, size - 1.0, "B", shade=225)
            self.row(
                columns,
                cells,
                row_h,
                size,
                "B" if index in bold_rows else "",
                shade=_SHADE if shade and index % 2 else None,
            )

    def need(self, height: float) -> None:
        """A new page unless `height` mm still fit below the cursor."""
        if self.y_pos + height > self.bottom:
            self.new_page()

    def paragraph(self, text: str, size: float, style: str = "", gap: float = 1.5) -> None:
        width = self.right - self.left
        self.set_font("Sans", style, size)
        lines: list[str] = []
        for chunk in text.split("\n"):
            words, line = chunk.split(" "), ""
            for word in words:
                candidate = f"{line} {word}".strip()
                if line and self.get_string_width(candidate) > width:
                    lines.append(line)
                    line = word
                else:
                    line = candidate
            lines.append(line)
        line_h = size * _PT * 1.35
        for line in lines:
            self.need(line_h)
            self.text_at(self.left, self.y_pos, line, size, style)
            self.y_pos += line_h
        self.y_pos += gap

    def footers(self, left_text: str) -> bytes:
        """Write every page's footer now that the page count is known; the document's bytes."""
        total = self.page
        for number in range(1, total + 1):
            self.page = number
            y = self.page_h - 11.0
            self.set_draw_color(_GREY)
            self.set_line_width(0.2)
            self.line(self.left, y - 1.5, self.right, y - 1.5)
            self.set_draw_color(0)
            self.text_at(self.left, y, self.fit(left_text, self.right - self.left - 40, 7.5), 7.5)
            self.text_right(self.right, y, f"Страница {number} из {total}", 8)
        return bytes(self.output())


def _date_ru(info: SessionInfo) -> str:
    return info.exam_date.strftime("%d.%m.%Y")


def _session_line(info: SessionInfo) -> str:
    label = f" · {info.label}" if info.label else ""
    return f"{PROCEDURE_RU} · {_date_ru(info)}{label} · {info.school_year} учебный год"


def _page_header(
    pdf: _Pdf, info: SessionInfo, title: str, personal: bool, subtitle: str = ""
) -> float:
    """Region, procedure and session, the title (and a subtitle); returns the y where the
    content starts."""
    top = 8.0
    pdf.text_at(pdf.left, top, f"{info.region_code} · {info.region_name}", 8)
    if personal:
        pdf.text_right(pdf.right, top, OFFICIAL_USE, 8.5, "B")
    pdf.text_at(pdf.left, top + 4.8, _session_line(info), 9)
    shown, size = pdf.shrink(title, pdf.right - pdf.left, 13, "B")
    pdf.text_at(pdf.left, top + 10.5, shown, size, "B")
    if not subtitle:
        return top + 19.0
    shown, size = pdf.shrink(subtitle, pdf.right - pdf.left, 10.5, "B")
    pdf.text_at(pdf.left, top + 17.0, shown, size, "B")
    return top + 24.5


# --- results lists -----------------------------------------------------------------------------


def _school_cell(line: ResultLine) -> str:
    if line.school_code is None:
        return _NO_SCHOOL_RU.get(line.category, "—")
    return f"{line.school_code} {line.school_name or ''}".strip()


def _result_columns(show_school: bool) -> list[_Column]:
    names = (
        [_Column("Фамилия", 32.0), _Column("Имя", 24.0), _Column("Отчество", 28.0)]
        if show_school
        else [_Column("Фамилия", 50.0), _Column("Имя", 36.0), _Column("Отчество", 48.0)]
    )
    return [
        _Column("№", 9.0, "R"),
        _Column("Код работы", 25.0, mono=True),
        *names,
        _Column("Класс", 13.0, "C"),
        *([_Column("ОО", 48.0)] if show_school else []),
        _Column("Форма", 27.0),
        _Column("Результат", 22.0),
        *[_Column(MARK_HEADERS_RU[g], 7.0, "C") for g in MARK_GROUPS],
    ]


def _result_cells(number: int, line: ResultLine, show_school: bool) -> list[str]:
    return [
        str(number),
        line.work_code,
        line.surname,
        line.name,
        line.patronymic or "",
        line.class_name or "",
        *([_school_cell(line)] if show_school else []),
        form_text(line),
        result_text(line),
        *[mark_letter(line, g) for g in MARK_GROUPS],
    ]


def _counts_text(counts: Tally) -> str:
    others = ", ".join(
        f"{_PLURAL_RU[o]}: {counts.outcomes[o]}" for o in OUTCOMES[2:] if counts.outcomes[o]
    )
    return (
        f"Участников: {counts.participants}; зачет: {counts.passed}; незачет: {counts.failed}; "
        f"без результата: {counts.without_result}" + (f" ({others})" if others else "") + "."
    )


def results_list_pdf(
    info: SessionInfo,
    title: str,
    lines: Sequence[ResultLine],
    fonts: Fonts,
    *,
    show_school: bool | None = None,
) -> bytes:
    """A school's or a МОУО's results list, A4 landscape, in the order given (`by_school` /
    `by_mouo` sort them). The ОО column is shown when the lines are not all of one school
    (a МОУО's list), unless `show_school` says otherwise; it names the category of those
    without a school (graduates of past years learn their results at their МОУО)."""
    check_lines(lines)
    if show_school is None:
        show_school = len({line.school_code for line in lines}) > 1 or any(
            line.school_code is None for line in lines
        )
    columns = _result_columns(show_school)
    pdf = _Pdf(fonts, title, landscape=True)
    pdf.page_header = lambda: _page_header(pdf, info, title, personal=True)
    pdf.new_page()
    rows = [_result_cells(n, line, show_school) for n, line in enumerate(lines, start=1)]
    pdf.paged_table(columns, rows, row_h=6.0, size=8.5, head_h=7.0)
    if not rows:
        pdf.y_pos += 2.0
        pdf.paragraph("Участников нет.", 9)
    pdf.y_pos += 3.0
    pdf.need(14.0)
    pdf.paragraph(_counts_text(tally("", "", lines)), 9.5, "B")
    pdf.paragraph(_MARKS_LEGEND, 8)
    return pdf.footers(f"{OFFICIAL_USE}. {PERSONAL_DATA_NOTE}")


# --- retake list -------------------------------------------------------------------------------

_RETAKE_COLUMNS = (
    _Column("№", 10.0, "R"),
    _Column("МОУО", 14.0),
    _Column("ОО", 17.0),
    _Column("Код работы", 25.0, mono=True),
    _Column("Фамилия", 30.0),
    _Column("Имя", 22.0),
    _Column("Отчество", 25.0),
    _Column("Класс", 12.0, "C"),
    _Column("Форма", 26.0),
    _Column("Попытка", 14.0, "C"),
    _Column("Основание", 82.0),
)
_CONDITIONAL_NOTE = (
    "* — допускается к повторному участию при представлении документа, подтверждающего "
    "уважительную причину неявки."
)


def retake_list_pdf(
    info: SessionInfo, next_session_label: str, lines: Sequence[RetakeLine], fonts: Fonts
) -> bytes:
    """Who may write again in the next session (`retake_list`), A4 landscape; conditional
    admissions (absent: only with a document) marked «*» and counted apart."""
    check_lines(item.line for item in lines)
    title = "Участники, имеющие право на повторное участие"
    subtitle = f"Дополнительный срок: {next_session_label}"
    pdf = _Pdf(fonts, f"{title} · {next_session_label}", landscape=True)
    pdf.page_header = lambda: _page_header(pdf, info, title, personal=True, subtitle=subtitle)
    pdf.new_page()
    rows = [
        [
            f"{n}*" if item.conditional else str(n),
            item.line.mouo_code,
            item.line.school_code or "—",
            item.line.work_code,
            item.line.surname,
            item.line.name,
            item.line.patronymic or "",
            item.line.class_name or "",
            form_text(item.line),
            str(item.line.attempt),
            item.reason,
        ]
        for n, item in enumerate(lines, start=1)
    ]
    pdf.paged_table(_RETAKE_COLUMNS, rows, row_h=6.0, size=8.0, head_h=7.0)
    if not rows:
        pdf.y_pos += 2.0
        pdf.paragraph("Участников, имеющих право на повторное участие, нет.", 9)
    pdf.y_pos += 3.0
    pdf.need(20.0)
    conditional = sum(item.conditional for item in lines)
    pdf.paragraph(
        f"Всего: {len(lines)}; из них при подтверждении уважительной причины: {conditional}.",
        9.5,
        "B",
    )
    pdf.paragraph(
        "Попытка — номер участия в текущем учебном году. Участники, получившие «зачет», и "
        "использовавшие все попытки учебного года в список не включены; участники без "
        "результата проверки (не оценено, нет сведений ИС-05) ожидают результата и в список "
        "не включены.\n" + _CONDITIONAL_NOTE,
        8,
    )
    return pdf.footers(f"{OFFICIAL_USE}. {PERSONAL_DATA_NOTE}")


# --- statistics report -------------------------------------------------------------------------

_COUNT_W = 18.0
_TALLY_COLUMNS = (
    _Column("Участ-\nников", _COUNT_W, "R"),
    _Column("Писали", _COUNT_W, "R"),
    _Column("Зачет", _COUNT_W, "R"),
    _Column("Незачет", _COUNT_W, "R"),
    _Column("Доля\nзачета", _COUNT_W, "R"),
)
_OUTCOME_COLUMNS = (
    _Column("Участ-\nников", 15.0, "R"),
    _Column("Зачет", 15.0, "R"),
    _Column("Незачет", 15.0, "R"),
    _Column("Не яви-\nлись", 15.0, "R"),
    _Column("Не закон-\nчили", 16.0, "R"),
    _Column("Удале-\nны", 15.0, "R"),
    _Column("Не оце-\nнено", 15.0, "R"),
    _Column("Нет све-\nдений", 15.0, "R"),
    _Column("Доля\nзачета", 16.0, "R"),
)


# The chart files of inform_charts.charts(), each placed after its table.
_PASS_RATE, _CATEGORY, _FORM = (
    "pass_rate_by_mouo.png",
    "outcomes_by_category.png",
    "outcomes_by_form.png",
)


def _tally_cells(row: Tally) -> list[str]:
    return [
        str(row.participants),
        str(row.wrote),
        str(row.passed),
        str(row.failed),
        percent_text(row.pass_rate),
    ]


def _outcome_cells(row: Tally) -> list[str]:
    return [
        str(row.participants),
        *[str(row.outcomes[o]) for o in OUTCOMES],
        percent_text(row.pass_rate),
    ]


def _png_size(png: bytes) -> tuple[int, int]:
    if png[:8] != b"\x89PNG\r\n\x1a\n" or png[12:16] != b"IHDR":
        raise DataError("диаграмма не в формате PNG")
    width, height = struct.unpack(">II", png[16:24])
    return int(width), int(height)


def _chart(pdf: _Pdf, png: bytes | None) -> None:
    """The chart at full text width (scaled down if taller than a page), below the cursor."""
    if png is None:
        return
    width_px, height_px = _png_size(png)
    width = pdf.right - pdf.left
    height = width * height_px / width_px
    room = pdf.bottom - 30.0
    if height > room:
        width, height = width * room / height, room
    pdf.need(height + 2.0)
    pdf.image(BytesIO(png), pdf.left + (pdf.right - pdf.left - width) / 2, pdf.y_pos, width, height)
    pdf.y_pos += height + 5.0


def _section(pdf: _Pdf, title: str) -> None:
    pdf.need(24.0)  # a heading never ends a page alone
    pdf.y_pos += 2.0
    pdf.text_at(pdf.left, pdf.y_pos, title, 11.5, "B")
    pdf.y_pos += 7.0


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]  # str.capitalize() would lower «ИС-05»


def _totals(pdf: _Pdf, total: Tally, oral: Tally) -> None:
    items = [
        ("Участников", str(total.participants)),
        ("Писали (явились)", str(total.wrote)),
        ("Оценено работ", str(total.graded)),
        ("Зачет", str(total.passed)),
        ("Незачет", str(total.failed)),
        ("Доля зачета среди оцененных работ", percent_text(total.pass_rate)),
        *[(_capital(_PLURAL_RU[o]), str(total.outcomes[o])) for o in OUTCOMES[2:]],
        ("В устной форме", str(oral.participants)),
    ]
    for label, value in items:
        pdf.text_at(pdf.left + 2.0, pdf.y_pos, label, 9.5)
        pdf.text_right(pdf.left + 110.0, pdf.y_pos, value, 9.5, "B")
        pdf.y_pos += 5.2


def statistics_pdf(
    info: SessionInfo, stats: Statistics, charts: Mapping[str, bytes], fonts: Fonts
) -> bytes:
    """The session's statistics report, A4 portrait: totals, tables by МОУО, category, form and
    school with the charts (`inform_charts.charts`) after their tables. Codes, organisation
    names and counts only: no participant is named."""
    title = "Статистический отчет о результатах"
    pdf = _Pdf(fonts, f"{title} · {info.region_code} · {_date_ru(info)}", landscape=False)
    pdf.page_header = lambda: _page_header(pdf, info, title, personal=False)
    pdf.new_page()
    pdf.y_pos += 1.0
    _section(pdf, "Итоги по региону")
    _totals(pdf, stats.total, stats.oral)
    pdf.y_pos += 3.0
    pdf.paragraph(
        "Писали — участники, присутствовавшие на написании (в том числе не закончившие "
        "и удаленные); доля зачета считается среди оцененных работ (зачет + незачет).",
        8,
    )

    _section(pdf, "1. Результаты по МОУО")
    mouo_columns = (_Column("Код", 16.0), _Column("МОУО", 74.0), *_TALLY_COLUMNS)
    rows = [[t.code, t.name, *_tally_cells(t)] for t in stats.by_mouo]
    rows.append(["", "Итого по региону", *_tally_cells(stats.total)])
    pdf.paged_table(mouo_columns, rows, row_h=7.5, bold_rows=frozenset({len(rows) - 1}))
    pdf.y_pos += 4.0
    _chart(pdf, charts.get(_PASS_RATE))

    oral = Tally(stats.oral.code, "в т. ч. в устной форме", stats.oral.outcomes)
    sections = (
        ("2. Результаты по категориям участников", "Категория", stats.by_category, _CATEGORY),
        ("3. Результаты по формам", "Форма", (*stats.by_form, oral), _FORM),
    )
    for heading, first, tallies, chart in sections:
        _section(pdf, heading)
        columns = (_Column(first, 43.0), *_OUTCOME_COLUMNS)
        pdf.paged_table(columns, [[t.name, *_outcome_cells(t)] for t in tallies], row_h=7.5)
        pdf.y_pos += 4.0
        _chart(pdf, charts.get(chart))

    _section(pdf, "4. Результаты по ОО")
    school_columns = (
        _Column("МОУО", 16.0),
        _Column("Код ОО", 20.0),
        _Column("ОО", 54.0),
        *_TALLY_COLUMNS,
    )
    rows = [[t.mouo_code or "", t.code, t.name, *_tally_cells(t)] for t in stats.by_school]
    pdf.paged_table(school_columns, rows, row_h=7.5)
    pdf.y_pos += 3.0
    pdf.paragraph(
        "По ОО учтены участники, обучающиеся в ОО; выпускники прошлых лет и другие участники "
        "без ОО учтены в МОУО по месту жительства.",
        8,
    )
    return pdf.footers(f"{title} · {info.region_name} · {_date_ru(info)}")
