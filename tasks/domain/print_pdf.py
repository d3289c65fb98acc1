"""PDF builders for the print stage: kits (registration and answer blanks) and room forms.

Every blank is drawn from its layout (tasks/domain/blanks.py), black on white, for an office
laser printer and a 300-dpi scanner. Builders return bytes; the adapter writes the files. Fonts
come in as paths to TrueType files (Cyrillic), embedded as subsets.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import segno
from fpdf import FPDF

from tasks.domain.blanks import (
    BLANK_TITLES_RU,
    BlankType,
    Box,
    Field,
    FieldKind,
    QrPayload,
    layout_for,
    qr_text,
)

__all__ = [
    "A4Pdf",
    "Fonts",
    "PageSpec",
    "RoomForms",
    "RoomSeat",
    "build_kits_pdf",
    "build_room_forms_pdf",
]

QR_QUIET = 2  # modules of white inside the layout box, around the symbol
QR_VERSION = 3  # 29×29 modules: «IS1|W|<12 digits>|<page>|<check>» with level M
QR_MASK = 2
# A fixed creation date keeps a re-print byte-identical (content hashes stay stable).
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_GREY = 150


@dataclass(frozen=True, slots=True)
class Fonts:
    regular: Path
    bold: Path
    mono: Path


@dataclass(frozen=True, slots=True)
class PageSpec:
    """One printed page: which blank, which side, its code, what is printed on it."""

    blank_type: BlankType
    page: int
    code: str
    header: str  # «Итоговое сочинение (изложение) · 06.12.2017 · Кемеровская область»
    printed: dict[str, str] = field(default_factory=dict)  # printed_<name> values


class A4Pdf(FPDF):
    """An A4 document in the project's fonts (Sans, Sans bold, Mono), without margins or
    automatic page breaks, with reproducible bytes; shared by every PDF builder."""

    def __init__(self, fonts: Fonts, title: str) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.set_auto_page_break(False)
        self.set_margins(0, 0, 0)
        self.add_font("Sans", "", str(fonts.regular))
        self.add_font("Sans", "B", str(fonts.bold))
        self.add_font("Mono", "", str(fonts.mono))
        self.set_title(title)
        self.set_creator("РЦОИ")
        self.set_producer("rcoi")
        self.set_creation_date(_EPOCH)  # reproducible bytes: no clock in the document

    def text_at(
        self, x: float, y: float, text: str, size: float, style: str = "", family: str = "Sans"
    ) -> None:
        """Text with its baseline `size`-proportional below `y` (y is the top of the line)."""
        self.set_font(family, style, size)
        self.text(x, y + size * 0.3528 * 0.8, text)


def _fill(pdf: FPDF, box: Box) -> None:
    pdf.rect(box.x, box.y, box.w, box.h, style="F")


def _qr(pdf: FPDF, box: Box, text: str) -> None:
    """The QR symbol drawn as filled runs of modules (vector, sharp at any dpi).

    Version 3 fixes the module size on every blank; a fixed mask skips segno's mask search
    (80 % of a page's time otherwise): any of the eight masks is valid QR. The runs go out as
    one path with a single fill, as fpdf2's `rect` would write them one by one."""
    symbol = segno.make(text, error="m", micro=False, version=QR_VERSION, mask=QR_MASK)
    matrix = symbol.matrix
    size = len(matrix)
    module = min(box.w, box.h) / (size + 2 * QR_QUIET)
    x0, y0 = box.x + QR_QUIET * module, box.y + QR_QUIET * module
    k, page_h = pdf.k, pdf.h
    ops: list[str] = []
    for r, row in enumerate(matrix):
        c = 0
        while c < size:
            if row[c]:
                start = c
                while c < size and row[c]:
                    c += 1
                x, y = x0 + start * module, y0 + r * module
                ops.append(
                    f"{x * k:.2f} {(page_h - y) * k:.2f} {(c - start) * module * k:.2f} "
                    f"{-module * k:.2f} re"
                )
            else:
                c += 1
    pdf._out(" ".join(ops) + " f")  # fpdf2 has no public call for one path of many rects


def _cells(pdf: FPDF, item: Field) -> None:
    pdf.set_line_width(0.3)
    for cell in item.cells:
        pdf.rect(cell.x, cell.y, cell.w, cell.h)


def _label_above(pdf: A4Pdf, item: Field, size: float = 7.5) -> None:
    pdf.text_at(item.box.x, item.box.y - 4.0, item.label, size)


def _frame(pdf: A4Pdf, spec: PageSpec, fields: Sequence[Field]) -> None:
    for item in fields:
        if item.kind in (FieldKind.MARKER, FieldKind.ORIENTATION):
            _fill(pdf, item.box)
        elif item.kind is FieldKind.QR:
            _qr(pdf, item.box, qr_text(QrPayload(spec.blank_type, spec.code, spec.page)))
        elif item.kind is FieldKind.PRINTED_CODE:
            pdf.text_at(item.box.x, item.box.y - 4.5, item.label, 8)
            pdf.set_font("Mono", "", 16)
            spaced = " ".join(spec.code[i : i + 4] for i in range(0, len(spec.code), 4))
            pdf.text(item.box.x, item.box.y + 5.5, spaced)


def _header(pdf: A4Pdf, spec: PageSpec) -> None:
    title = BLANK_TITLES_RU[spec.blank_type]
    side = (
        ""
        if spec.blank_type is BlankType.REGISTRATION
        else ("лицевая сторона", "оборот")[spec.page - 1]
    )
    pdf.text_at(38.0, 16.0, spec.header, 8)
    pdf.text_at(38.0, 21.0, title + (f" · {side}" if side else ""), 13, "B")


def _registration(pdf: A4Pdf, spec: PageSpec, fields: Sequence[Field]) -> None:
    pdf.text_at(20.0, 55.0, "Сведения об участнике (заполняются при печати)", 9, "B")
    for item in fields:
        if item.kind is FieldKind.PRINTED_TEXT:
            pdf.text_at(20.0, item.box.y + 0.5, item.label, 9)
            value = spec.printed.get(item.name.removeprefix("printed_"), "")
            pdf.text_at(item.box.x, item.box.y + 0.5, value or "—", 10, "B")
            pdf.set_draw_color(_GREY)
            pdf.set_line_width(0.2)
            bottom = item.box.y + item.box.h
            pdf.line(item.box.x, bottom, item.box.x + item.box.w, bottom)
            pdf.set_draw_color(0)
    pdf.text_at(20.0, 118.5, "Заполняется участником", 9, "B")
    for item in fields:
        if item.kind is FieldKind.DIGIT_CELLS:
            pdf.text_at(
                20.0 if item.name == "topic_number" else 105.0, item.box.y + 2.0, item.label, 9
            )
            _cells(pdf, item)
    pdf.text_at(
        20.0,
        138.0,
        "Образец написания цифр: 0 1 2 3 4 5 6 7 8 9. Неиспользованные поля бланков "
        "записи погашаются знаком «Z».",
        7.5,
    )
    pdf.text_at(20.0, 145.0, "Отметки членов комиссии по проведению (с подписью)", 9, "B")
    boxes = [f for f in fields if f.kind is FieldKind.MARK_BOX]
    for item in boxes:
        if item.group is None:
            pdf.set_line_width(0.35)
            pdf.rect(item.box.x, item.box.y, item.box.w, item.box.h)
            pdf.text_at(item.box.x + 8.0, item.box.y + 1.0, item.label, 9)
    pdf.text_at(20.0, 164.0, "Подпись члена комиссии ______________", 8)
    pdf.text_at(20.0, 172.0, "Результаты проверки (заполняются экспертом)", 9, "B")
    pdf.text_at(136.0, 181.0, "зачет", 8)
    pdf.text_at(164.0, 181.0, "незачет", 8)
    seen: set[str] = set()
    for item in boxes:
        if item.group is None:
            continue
        if item.group not in seen:
            seen.add(item.group)
            pdf.text_at(20.0, item.box.y + 1.0, item.label, 9)
        pdf.set_line_width(0.35)
        pdf.rect(item.box.x, item.box.y, item.box.w, item.box.h)
    pdf.text_at(20.0, 268.0, "Эксперт ______________  Подпись ______________", 8)


def _answer(pdf: A4Pdf, spec: PageSpec, fields: Sequence[Field]) -> None:
    for item in fields:
        if item.kind is FieldKind.DIGIT_CELLS:
            pdf.text_at(
                20.0 if item.name == "work_code" else item.box.x - 14.0,
                item.box.y + 2.0,
                item.label,
                9,
            )
            _cells(pdf, item)
        elif item.kind is FieldKind.TEXT_AREA:
            pdf.text_at(item.box.x, item.box.y - 4.5, item.label, 8)
            pdf.set_draw_color(_GREY)
            pdf.set_line_width(0.2)
            for i in range(1, item.lines + 1):
                y = item.box.y + i * item.box.h / item.lines
                pdf.line(item.box.x, y, item.box.x + item.box.w, y)
            pdf.set_draw_color(0)
    if spec.page == 1:
        pdf.text_at(
            20.0,
            74.5,
            "Впишите код работы с бланка регистрации. Пишите в пределах разлиновки.",
            7.5,
        )


def _page(pdf: A4Pdf, spec: PageSpec) -> None:
    layout = layout_for(spec.blank_type, spec.page)
    pdf.add_page()
    _frame(pdf, spec, layout.fields)
    _header(pdf, spec)
    if spec.blank_type is BlankType.REGISTRATION:
        _registration(pdf, spec, layout.fields)
    else:
        _answer(pdf, spec, layout.fields)


def build_kits_pdf(pages: Iterable[PageSpec], fonts: Fonts, title: str) -> bytes:
    """One PDF of the given pages, in order (a school's kits, sorted by room)."""
    pdf = A4Pdf(fonts, title)
    for spec in pages:
        _page(pdf, spec)
    return bytes(pdf.output())


# --- room forms --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RoomSeat:
    number: int
    full_name: str
    document: str
    work_code: str
    form: str  # «сочинение» / «изложение»


@dataclass(frozen=True, slots=True)
class RoomForms:
    header: str
    school: str  # «4201001 · МБОУ СОШ № 1»
    room: str
    seats: tuple[RoomSeat, ...]


def _table(
    pdf: A4Pdf,
    x: float,
    y: float,
    widths: Sequence[float],
    cells: Sequence[str],
    height: float,
    size: float,
    style: str = "",
) -> None:
    pdf.set_font("Sans", style, size)
    pdf.set_line_width(0.2)
    for width, text in zip(widths, cells, strict=True):
        pdf.rect(x, y, width, height)
        pdf.set_xy(x + 0.8, y)
        pdf.cell(width - 1.6, height, text)
        x += width


_IS05_HEAD = (
    "№",
    "ФИО участника",
    "Документ",
    "Код работы",
    "Форма",
    "Явка",
    "Не зак.",
    "Удален",
    "Устно",
    "Подпись",
)
_IS05_WIDTHS = (8.0, 48.0, 24.0, 25.0, 17.0, 9.0, 12.0, 13.0, 11.0, 13.0)


def _is05(pdf: A4Pdf, room: RoomForms) -> None:
    rows_per_page = 28
    seats = list(room.seats) or []
    chunks = [seats[i : i + rows_per_page] for i in range(0, max(len(seats), 1), rows_per_page)]
    for n, chunk in enumerate(chunks, start=1):
        pdf.add_page()
        pdf.text_at(15.0, 12.0, "Форма ИС-05", 8, "B")
        pdf.text_at(15.0, 18.0, room.header, 8)
        pdf.text_at(15.0, 25.0, "ВЕДОМОСТЬ ПРОВЕДЕНИЯ ИТОГОВОГО СОЧИНЕНИЯ (ИЗЛОЖЕНИЯ)", 11, "B")
        pdf.text_at(15.0, 30.0, "В УЧЕБНОМ КАБИНЕТЕ", 11, "B")
        pdf.text_at(
            15.0,
            36.0,
            f"ОО: {room.school}    Аудитория: {room.room}    Лист {n} из {len(chunks)}",
            9,
        )
        y = 43.0
        _table(pdf, 15.0, y, _IS05_WIDTHS, _IS05_HEAD, 7.0, 6.5, "B")
        y += 7.0
        for seat in chunk:
            _table(
                pdf,
                15.0,
                y,
                _IS05_WIDTHS,
                (
                    str(seat.number),
                    seat.full_name,
                    seat.document,
                    seat.work_code,
                    seat.form,
                    "",
                    "",
                    "",
                    "",
                    "",
                ),
                7.5,
                7.5,
            )
            y += 7.5
        pdf.text_at(
            15.0,
            270.0,
            "Члены комиссии по проведению: ______________ / ______________     Дата ____________",
            8,
        )
        pdf.text_at(
            15.0,
            277.0,
            "Отметки: «+» явился, «Н» не явился. Не закончил — акт ИС-08, удален — акт ИС-09.",
            7.5,
        )


def _act(pdf: A4Pdf, room: RoomForms, form: str, title: str, reason: str) -> None:
    pdf.add_page()
    pdf.text_at(15.0, 12.0, f"Форма {form}", 8, "B")
    pdf.text_at(15.0, 18.0, room.header, 8)
    pdf.text_at(15.0, 28.0, title, 12, "B")
    pdf.text_at(15.0, 38.0, f"ОО: {room.school}    Аудитория: {room.room}", 9)
    lines = (
        "Фамилия, имя, отчество участника: ______________________________________________",
        "Код работы: ______________________    Время: ____ ч ____ мин",
        reason,
        "__________________________________________________________________________________",
        "__________________________________________________________________________________",
        "Член комиссии по проведению: ______________ / ______________",
        "Руководитель ОО: ______________ / ______________",
        "Участник ознакомлен: ______________ / ______________",
        "Отметка «"
        + ("Не закончил" if form == "ИС-08" else "Удален")
        + "» в бланке регистрации проставлена и заверена подписью члена комиссии.",
    )
    for i, line in enumerate(lines):
        pdf.text_at(15.0, 52.0 + i * 10.0, line, 9)


def build_room_forms_pdf(rooms: Iterable[RoomForms], fonts: Fonts, title: str) -> bytes:
    """Per room: ИС-05 pre-filled with its participants, then blank ИС-08 and ИС-09."""
    pdf = A4Pdf(fonts, title)
    for room in rooms:
        _is05(pdf, room)
        _act(
            pdf,
            room,
            "ИС-08",
            "АКТ О ДОСРОЧНОМ ЗАВЕРШЕНИИ НАПИСАНИЯ ИТОГОВОГО СОЧИНЕНИЯ (ИЗЛОЖЕНИЯ) "
            "ПО УВАЖИТЕЛЬНЫМ ПРИЧИНАМ",
            "Причина (состояние здоровья, иные обстоятельства):",
        )
        _act(
            pdf,
            room,
            "ИС-09",
            "АКТ ОБ УДАЛЕНИИ УЧАСТНИКА ИТОГОВОГО СОЧИНЕНИЯ (ИЗЛОЖЕНИЯ)",
            "Нарушение требований (средства связи, справочные материалы и пр.):",
        )
    return bytes(pdf.output())
