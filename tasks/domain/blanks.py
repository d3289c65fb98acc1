"""Blank layouts of the final essay: every field's place on the page in millimetres.

The layout is the contract between print and scan (docs/blank-layouts.md): the PDF builder
draws exactly these boxes, the layout JSON written next to the PDFs lists them, and recognition
reads them back without re-measuring a PDF. Coordinates are from the top-left corner of an A4
page, x to the right, y down. Positions are fixed per blank type and layout version.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from tasks.errors import DataError

__all__ = [
    "LAYOUT_VERSION",
    "PAGE_H",
    "PAGE_W",
    "BlankType",
    "Box",
    "Field",
    "FieldKind",
    "Layout",
    "QrPayload",
    "all_layouts",
    "layout_for",
    "parse_qr",
    "qr_text",
]

LAYOUT_VERSION = 1
PAGE_W, PAGE_H = 210.0, 297.0

# Corner markers: filled squares whose outer edge lies 15 mm from the paper edges, so that an
# office printer's unprintable margin and a scanner's crop never touch them.
MARGIN = 15.0
MARKER = 8.0
# The orientation cue: a bar beside the top-left marker only. Turned 180°, it sits beside the
# bottom-right one, which tells a scanned page's orientation before the QR is read.
CUE_W, CUE_H, CUE_GAP = 4.0, MARKER, 3.0

CELL_W, CELL_H, CELL_GAP = 7.0, 9.0, 1.0
BOX = 6.0


class BlankType(StrEnum):
    REGISTRATION = "registration"  # бланк регистрации
    ANSWER = "answer"  # бланк записи (лицевая и оборотная стороны)
    ADDITIONAL = "additional"  # дополнительный бланк записи


BLANK_TITLES_RU: dict[BlankType, str] = {
    BlankType.REGISTRATION: "БЛАНК РЕГИСТРАЦИИ",
    BlankType.ANSWER: "БЛАНК ЗАПИСИ",
    BlankType.ADDITIONAL: "ДОПОЛНИТЕЛЬНЫЙ БЛАНК ЗАПИСИ",
}

PAGES: dict[BlankType, int] = {
    BlankType.REGISTRATION: 1,
    BlankType.ANSWER: 2,
    BlankType.ADDITIONAL: 2,
}

# One letter per blank type in the QR code.
_QR_LETTER = {BlankType.REGISTRATION: "R", BlankType.ANSWER: "W", BlankType.ADDITIONAL: "D"}
_QR_TYPE = {letter: kind for kind, letter in _QR_LETTER.items()}
QR_PREFIX = "IS"


class FieldKind(StrEnum):
    MARKER = "marker"  # filled corner square
    ORIENTATION = "orientation"  # filled bar beside the top-left marker
    QR = "qr"  # QR code: blank type, code, page, check value
    PRINTED_CODE = "printed_code"  # the work (or blank) code printed in digits
    PRINTED_TEXT = "printed_text"  # participant or school data printed on the blank
    DIGIT_CELLS = "digit_cells"  # a row of cells for handwritten digits
    MARK_BOX = "mark_box"  # a square to mark with a cross
    TEXT_AREA = "text_area"  # lined area for the essay


@dataclass(frozen=True, slots=True)
class Box:
    x: float
    y: float
    w: float
    h: float

    def as_list(self) -> list[float]:
        return [round(self.x, 2), round(self.y, 2), round(self.w, 2), round(self.h, 2)]


@dataclass(frozen=True, slots=True)
class Field:
    """One field of a page. `cells` for digit cells; `group`/`value` for mark boxes that
    answer one question together (К1: «зачет» or «незачет»); `label` as printed."""

    name: str
    kind: FieldKind
    box: Box
    label: str = ""
    cells: tuple[Box, ...] = ()
    group: str | None = None
    value: str | None = None
    lines: int = 0

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "kind": str(self.kind)}
        out["x_mm"], out["y_mm"], out["w_mm"], out["h_mm"] = self.box.as_list()
        if self.label:
            out["label"] = self.label
        if self.cells:
            out["cells"] = [c.as_list() for c in self.cells]
        if self.group:
            out["group"], out["value"] = self.group, self.value
        if self.lines:
            out["lines"] = self.lines
        return out


@dataclass(frozen=True, slots=True)
class Layout:
    blank_type: BlankType
    page: int
    fields: tuple[Field, ...] = field(default=())

    @property
    def name(self) -> str:
        return f"{self.blank_type}-{self.page}"

    def field(self, name: str) -> Field:
        for item in self.fields:
            if item.name == name:
                return item
        raise KeyError(name)

    def of_kind(self, kind: FieldKind) -> list[Field]:
        return [f for f in self.fields if f.kind is kind]

    def as_dict(self) -> dict[str, Any]:
        return {
            "schema_version": 1,
            "layout_version": LAYOUT_VERSION,
            "blank_type": str(self.blank_type),
            "page": self.page,
            "pages": PAGES[self.blank_type],
            "title": BLANK_TITLES_RU[self.blank_type],
            "page_size_mm": [PAGE_W, PAGE_H],
            "origin": "top-left, x right, y down",
            "fields": [f.as_dict() for f in self.fields],
        }


def _cells(name: str, x: float, y: float, count: int, label: str) -> Field:
    cells = tuple(Box(x + i * (CELL_W + CELL_GAP), y, CELL_W, CELL_H) for i in range(count))
    width = count * CELL_W + (count - 1) * CELL_GAP
    return Field(name, FieldKind.DIGIT_CELLS, Box(x, y, width, CELL_H), label, cells)


def _frame(blank: BlankType, page: int) -> list[Field]:
    """Markers, the orientation cue, the QR code and the printed code: on every page."""
    far_x, far_y = PAGE_W - MARGIN - MARKER, PAGE_H - MARGIN - MARKER
    fields = [
        Field("marker_tl", FieldKind.MARKER, Box(MARGIN, MARGIN, MARKER, MARKER)),
        Field("marker_tr", FieldKind.MARKER, Box(far_x, MARGIN, MARKER, MARKER)),
        Field("marker_bl", FieldKind.MARKER, Box(MARGIN, far_y, MARKER, MARKER)),
        Field("marker_br", FieldKind.MARKER, Box(far_x, far_y, MARKER, MARKER)),
        Field(
            "orientation",
            FieldKind.ORIENTATION,
            Box(MARGIN + MARKER + CUE_GAP, MARGIN, CUE_W, CUE_H),
        ),
        Field("qr", FieldKind.QR, Box(PAGE_W - MARGIN - 26.0, MARGIN + MARKER + 4.0, 26.0, 26.0)),
        Field(
            "code_printed",
            FieldKind.PRINTED_CODE,
            Box(MARGIN + 15.0, MARGIN + MARKER + 19.0, 80.0, 8.0),
            "Код работы" if blank is not BlankType.ADDITIONAL else "Номер бланка",
        ),
    ]
    return fields


def _registration() -> Layout:
    fields = _frame(BlankType.REGISTRATION, 1)
    left = MARGIN + 5.0
    printed = [
        ("region", "Код региона", 0),
        ("school_code", "Код ОО", 1),
        ("room", "Аудитория", 2),
        ("class_name", "Класс", 3),
        ("surname", "Фамилия", 4),
        ("name", "Имя", 5),
        ("patronymic", "Отчество", 6),
        ("document", "Документ", 7),
    ]
    for name, label, row in printed:
        fields.append(
            Field(
                f"printed_{name}",
                FieldKind.PRINTED_TEXT,
                Box(left + 40.0, 62.0 + row * 6.5, 120.0, 6.0),
                label,
            )
        )
    fields.append(_cells("topic_number", left + 60.0, 126.0, 3, "Номер темы"))
    fields.append(_cells("answer_blanks", left + 140.0, 126.0, 2, "Количество бланков записи"))
    flags = [
        ("flag_not_finished", "Не закончил"),
        ("flag_removed", "Удален"),
        ("flag_oral", "В устной форме"),
    ]
    for i, (name, label) in enumerate(flags):
        fields.append(
            Field(name, FieldKind.MARK_BOX, Box(left + 2.0 + i * 58.0, 152.0, BOX, BOX), label)
        )
    results = [
        ("requirement_1", "Требование 1 «Объем итогового сочинения»"),
        ("requirement_2", "Требование 2 «Самостоятельность написания»"),
        ("k1", "Критерий 1"),
        ("k2", "Критерий 2"),
        ("k3", "Критерий 3"),
        ("k4", "Критерий 4"),
        ("k5", "Критерий 5"),
        ("overall", "Результат"),
    ]
    for i, (group, label) in enumerate(results):
        y = 188.0 + i * 9.5
        for j, (suffix, value) in enumerate((("pass", "зачет"), ("fail", "незачет"))):
            fields.append(
                Field(
                    f"{group}_{suffix}",
                    FieldKind.MARK_BOX,
                    Box(left + 118.0 + j * 30.0, y, BOX, BOX),
                    label,
                    group=group,
                    value=value,
                )
            )
    return Layout(BlankType.REGISTRATION, 1, tuple(fields))


def _answer(blank: BlankType, page: int) -> Layout:
    fields = _frame(blank, page)
    left = MARGIN + 5.0
    top = 72.0
    if page == 1:
        fields.append(_cells("work_code", left + 40.0, 62.0, 12, "Код работы"))
        if blank is BlankType.ADDITIONAL:
            fields.append(_cells("sheet_number", left + 150.0, 62.0, 2, "Лист №"))
        top = 86.0
    bottom = PAGE_H - MARGIN - MARKER - 6.0
    lines = int((bottom - top) // 8.0)
    fields.append(
        Field(
            "text",
            FieldKind.TEXT_AREA,
            Box(left, top, PAGE_W - 2 * left, lines * 8.0),
            "Текст сочинения (изложения)",
            lines=lines,
        )
    )
    return Layout(blank, page, tuple(fields))


_LAYOUTS: dict[tuple[BlankType, int], Layout] = {
    (BlankType.REGISTRATION, 1): _registration(),
    (BlankType.ANSWER, 1): _answer(BlankType.ANSWER, 1),
    (BlankType.ANSWER, 2): _answer(BlankType.ANSWER, 2),
    (BlankType.ADDITIONAL, 1): _answer(BlankType.ADDITIONAL, 1),
    (BlankType.ADDITIONAL, 2): _answer(BlankType.ADDITIONAL, 2),
}


def layout_for(blank: BlankType, page: int) -> Layout:
    try:
        return _LAYOUTS[(blank, page)]
    except KeyError:
        raise DataError(f"нет страницы {page} у бланка «{BLANK_TITLES_RU[blank]}»") from None


def all_layouts() -> list[Layout]:
    return list(_LAYOUTS.values())


# --- QR payload --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QrPayload:
    blank_type: BlankType
    code: str  # the work code (registration, answer) or the blank number (additional)
    page: int


def _check(body: str) -> str:
    return hashlib.sha256(body.encode("ascii")).hexdigest()[:4].upper()


def qr_text(payload: QrPayload) -> str:
    """`IS1|W|421710012345|2|3FA0`: layout version, blank type, code, page, check value."""
    body = (
        f"{QR_PREFIX}{LAYOUT_VERSION}|{_QR_LETTER[payload.blank_type]}|{payload.code}|"
        f"{payload.page}"
    )
    return f"{body}|{_check(body)}"


def parse_qr(text: str) -> QrPayload:
    """The payload of a decoded QR; a foreign code or a failed check value is refused."""
    if not text.isascii():
        raise DataError("QR-код не относится к бланкам итогового сочинения")
    parts = text.strip().split("|")
    if len(parts) != 5 or not parts[0].startswith(QR_PREFIX):
        raise DataError("QR-код не относится к бланкам итогового сочинения")
    body, check = "|".join(parts[:4]), parts[4]
    if _check(body) != check.upper():
        raise DataError("QR-код: неверное контрольное значение")
    if parts[0] != f"{QR_PREFIX}{LAYOUT_VERSION}":
        raise DataError(f"QR-код: неизвестная версия бланка {parts[0][len(QR_PREFIX) :]}")
    kind = _QR_TYPE.get(parts[1])
    if kind is None or not parts[3].isdigit() or not 1 <= int(parts[3]) <= PAGES[kind]:
        raise DataError("QR-код: неизвестный тип бланка или номер страницы")
    if len(parts[2]) != 12 or not parts[2].isdigit():
        raise DataError("QR-код: код бланка — 12 цифр")
    return QrPayload(kind, parts[2], int(parts[3]))
