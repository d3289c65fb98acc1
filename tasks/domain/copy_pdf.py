"""PDF builder for the expert package: a cover, then per work its protocol sheet and page copies.

On exam day each written work (except those flagged «Не закончил»/«Удален») is copied for the
school's grading commission and assigned to one expert; this module draws one expert's package.
The scanned pages go in as JPEG bytes and are embedded as they are (DCTDecode, no re-encoding):
a demo region builds ~1 600 works, so decoding and re-compressing every page would dominate.
Every copy page carries a diagonal, semi-transparent «КОПИЯ»: a copy is never an original and is
never scanned. Builders return bytes; the adapter writes the files.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from io import BytesIO
from typing import cast

from tasks.domain.print_pdf import A4Pdf, Fonts
from tasks.errors import DataError

__all__ = [
    "CopyPage",
    "CopyWork",
    "ExpertPackage",
    "build_expert_package_pdf",
]

PAGE_W, PAGE_H = 210.0, 297.0
# A fixed creation date keeps a rebuilt package byte-identical (content hashes stay stable).
_GREY = 150
_JPEG_SOI = b"\xff\xd8\xff"

FORM_NAMES_RU = {"essay": "сочинение", "exposition": "изложение"}
# DOMAIN.md §6: the volume requirement's threshold and the five criteria of each form.
_MIN_WORDS = {"essay": 250, "exposition": 150}
_CRITERIA = {
    "essay": (
        "Соответствие теме",
        "Аргументация. Привлечение литературного материала",
        "Композиция и логика рассуждения",
        "Качество письменной речи",
        "Грамотность",
    ),
    "exposition": (
        "Содержание изложения",
        "Логичность изложения",
        "Использование элементов стиля исходного текста",
        "Качество письменной речи",
        "Грамотность",
    ),
}
_FORM_GENITIVE = {"essay": "итогового сочинения", "exposition": "итогового изложения"}

# The watermark: light enough that handwriting under it stays legible, dark enough to show on
# any photocopy of the copy.
_WATERMARK = "КОПИЯ"
_WATERMARK_WIDTH = 230.0  # mm along the page diagonal (364 mm)
_WATERMARK_GREY = 100
_WATERMARK_OPACITY = 0.2

# Copy pages: a header line, then the scan fitted into the rest of the sheet.
_IMAGE_BOX = (8.0, 13.0, PAGE_W - 16.0, PAGE_H - 17.0)  # x, y, w, h


@dataclass(frozen=True, slots=True)
class CopyPage:
    """One page of a work as copied: its scan, or the reason it is missing."""

    label: str  # «Бланк регистрации», «Бланк записи, с. 1», …
    image: bytes | None  # JPEG of the scanned page (grey, any size); None: not received
    missing_reason: str | None = None  # Russian text shown instead of the image


@dataclass(frozen=True, slots=True)
class CopyWork:
    work_code: str  # 12 digits
    form: str  # "essay" | "exposition"
    topic: str | None  # topic number, if known
    pages: tuple[CopyPage, ...]


@dataclass(frozen=True, slots=True)
class ExpertPackage:
    """The works assigned to one expert of a school's commission (codes only, no names)."""

    session: str  # "2017-12-06"
    school_code: str
    school_name: str
    expert_code: str  # «Э-0123-02»
    works: tuple[CopyWork, ...]


class _Pdf(A4Pdf):
    def __init__(self, fonts: Fonts, title: str) -> None:
        super().__init__(fonts, title)
        self.c_margin = 0  # text starts exactly where it is placed; tables pad their cells
        # Every protocol sheet repeats the same wrapped texts; fpdf2's line breaking is most of
        # a package's build time, so each text is wrapped once.
        self._wrapped: dict[tuple[str, float, str, float], list[str]] = {}

    def text_right(self, x_right: float, y: float, text: str, size: float, style: str = "") -> None:
        self.set_font("Sans", style, size)
        self.text_at(x_right - self.get_string_width(text), y, text, size, style)

    def wrap(self, text: str, w: float, size: float, style: str = "") -> list[str]:
        """`text` broken into lines no wider than `w` (mm) in Sans `style` at `size`."""
        key = (text, size, style, w)
        if key not in self._wrapped:
            self.set_font("Sans", style, size)
            # output="LINES" alone returns the lines (fpdf2 types the result as a wide union)
            lines = self.multi_cell(w, 1.0, text, dry_run=True, output="LINES")
            self._wrapped[key] = cast(list[str], lines)
        return self._wrapped[key]

    def paragraph(
        self, x: float, y: float, w: float, text: str, size: float, style: str = ""
    ) -> float:
        """Wrapped text from the top-left corner (x, y); returns the y below it."""
        line_h = size * 0.3528 * 1.35
        for line in self.wrap(text, w, size, style):
            self.text_at(x, y + (line_h - size * 0.3528) / 2, line, size, style)
            y += line_h
        return y


def _spaced(code: str) -> str:
    return " ".join(code[i : i + 4] for i in range(0, len(code), 4))


def _session_ru(session: str) -> str:
    try:
        return date.fromisoformat(session).strftime("%d.%m.%Y")
    except ValueError:
        return session


def _check(package: ExpertPackage) -> None:
    for work in package.works:
        if work.form not in FORM_NAMES_RU:
            raise DataError(
                f"работа {work.work_code}: неизвестная форма «{work.form}» "
                "(ожидается сочинение или изложение)"
            )
        for page in work.pages:
            # Anything but JPEG would be decoded and re-compressed by fpdf2: slow, and no longer
            # the scan the RCOI holds.
            if page.image is not None and not page.image.startswith(_JPEG_SOI):
                raise DataError(
                    f"работа {work.work_code}, «{page.label}»: изображение не в формате JPEG"
                )


def _pages_text(work: CopyWork) -> str:
    missing = sum(page.image is None for page in work.pages)
    return f"{len(work.pages)}" + (f" (нет {missing})" if missing else "")


# --- cover -------------------------------------------------------------------------------------

_COVER_HEAD = ("№", "Код работы", "Форма", "Тема", "Страниц")
_COVER_WIDTHS = (14.0, 52.0, 40.0, 30.0, 34.0)
_COVER_X = 20.0
_ROW_H = 6.5
_PAGE_BOTTOM = 282.0


def _row(pdf: _Pdf, y: float, cells: Sequence[str], style: str = "", mono_col: int = -1) -> None:
    x = _COVER_X
    pdf.set_line_width(0.2)
    for col, (width, text) in enumerate(zip(_COVER_WIDTHS, cells, strict=True)):
        pdf.rect(x, y, width, _ROW_H)
        pdf.set_font("Mono" if col == mono_col else "Sans", style, 10 if col == mono_col else 9)
        pdf.set_xy(x + 1.0, y)
        pdf.cell(width - 2.0, _ROW_H, text)
        x += width


def _cover(pdf: _Pdf, package: ExpertPackage) -> None:
    pdf.add_page()
    pdf.text_at(20.0, 12.0, "Итоговое сочинение (изложение) · проверка экспертами ОО", 8)
    pdf.text_at(20.0, 20.0, "Комплект копий для проверки", 18, "B")
    total_pages = sum(len(work.pages) for work in package.works)
    y = 34.0
    for label, value in (
        ("Дата проведения", _session_ru(package.session)),
        ("Эксперт (код)", package.expert_code),
        ("Работ в комплекте", f"{len(package.works)}, страниц копий: {total_pages}"),
    ):
        pdf.text_at(20.0, y, f"{label}:", 10)
        pdf.text_at(82.0, y, value, 10, "B")
        y += 7.0
    pdf.text_at(20.0, y, "Образовательная организация:", 10)
    school = f"{package.school_code} · {package.school_name}"
    y = pdf.paragraph(82.0, y - 0.9, 108.0, school, 10, "B") + 5.0

    instruction = (
        "Каждой работе предшествует лист эксперта. Сначала оцениваются требования 1 (объем) "
        "и 2 (самостоятельность), затем критерии 1–5; отметка «X» ставится в одном из полей "
        "«зачет» / «незачет» каждой строки, лист подписывается. Результаты отмечаются только "
        "на листе эксперта каждой работы.\n"
        "Копия не является оригиналом работы и не сканируется: результаты на оригинал бланка "
        "регистрации переносит уполномоченное лицо. Страницы, скан которых не поступил, "
        "заменены уведомлением."
    )
    pdf.set_line_width(0.3)
    top = y
    bottom = pdf.paragraph(23.0, top + 3.0, 164.0, instruction, 9)
    pdf.rect(20.0, top, 170.0, bottom - top + 3.0)
    y = bottom + 9.0

    _row(pdf, y, _COVER_HEAD, "B")
    y += _ROW_H
    for number, work in enumerate(package.works, start=1):
        if y + _ROW_H > _PAGE_BOTTOM:
            pdf.add_page()
            pdf.text_at(
                20.0, 12.0, f"Комплект копий для проверки · эксперт {package.expert_code}", 8
            )
            pdf.text_at(20.0, 17.0, "Перечень работ (продолжение)", 11, "B")
            y = 26.0
            _row(pdf, y, _COVER_HEAD, "B")
            y += _ROW_H
        cells = (
            str(number),
            work.work_code,
            FORM_NAMES_RU[work.form],
            work.topic or "—",
            _pages_text(work),
        )
        _row(pdf, y, cells, mono_col=1)
        y += _ROW_H
    pdf.text_at(
        _COVER_X,
        y + 3.0,
        f"Всего работ: {len(package.works)}, страниц копий: {total_pages}",
        9,
        "B",
    )


# --- the expert protocol sheet -----------------------------------------------------------------

_PROTOCOL_X = 15.0
_PROTOCOL_WIDTHS = (52.0, 88.0, 20.0, 20.0)
_PROTOCOL_ROW_H = 15.0
_MARK_BOX = 7.0


def _protocol_rows(form: str) -> list[tuple[str, str, str]]:
    """(row name, a note under it, what is checked) for the eight rows of the sheet."""
    rows = [
        (
            "Требование 1 (объем)",
            f"не менее {_MIN_WORDS[form]} слов",
            f"Объем {_FORM_GENITIVE[form]}",
        ),
        (
            "Требование 2 (самостоятельность)",
            "",
            f"Самостоятельность написания {_FORM_GENITIVE[form]}",
        ),
    ]
    rows += [(f"Критерий {i}", "", name) for i, name in enumerate(_CRITERIA[form], start=1)]
    rows.append(("Результат", "", "Итоговая отметка за работу"))
    return rows


def _copy_mark(pdf: _Pdf, x_right: float, y: float) -> None:
    """A small framed «КОПИЯ» (the protocol sheet is part of the copy, not an original)."""
    pdf.set_font("Sans", "B", 10)
    w = pdf.get_string_width(_WATERMARK) + 4.0
    pdf.set_line_width(0.4)
    pdf.rect(x_right - w, y, w, 6.0)
    pdf.text_at(x_right - w + 2.0, y + 1.4, _WATERMARK, 10, "B")


def _cell_text(
    pdf: _Pdf, x: float, y: float, w: float, h: float, lines: Sequence[tuple[str, float, str]]
) -> None:
    """Lines of (text, size, style) wrapped in a w-wide cell and centred vertically in it."""
    wrapped = [
        (part, size, style)
        for text, size, style in lines
        for part in pdf.wrap(text, w, size, style)
    ]
    heights = [size * 0.3528 * 1.3 for _, size, _ in wrapped]
    top = y + (h - sum(heights)) / 2
    for (text, size, style), height in zip(wrapped, heights, strict=True):
        pdf.text_at(x, top + (height - size * 0.3528) / 2, text, size, style)
        top += height


def _protocol(pdf: _Pdf, package: ExpertPackage, work: CopyWork) -> None:
    pdf.add_page()
    where = f"ОО {package.school_code} · эксперт {package.expert_code}"
    pdf.text_at(15.0, 10.0, f"{_session_ru(package.session)} · {where}", 8)
    _copy_mark(pdf, 195.0, 8.5)
    pdf.text_at(15.0, 18.0, "Лист эксперта (протокол проверки работы)", 14, "B")
    pdf.text_at(15.0, 29.0, "Код работы", 9)
    pdf.text_at(15.0, 34.0, _spaced(work.work_code), 28, family="Mono")
    topic = f"№ {work.topic}" if work.topic else "не указана"
    pdf.text_at(15.0, 50.0, "Форма:", 12)
    pdf.text_at(32.0, 50.0, FORM_NAMES_RU[work.form], 12, "B")
    pdf.text_at(90.0, 50.0, "Тема:", 12)
    pdf.text_at(104.0, 50.0, topic, 12, "B")
    y = pdf.paragraph(
        15.0,
        59.0,
        180.0,
        "Сначала оцениваются требования, затем критерии. Если требование 1 или 2 не выполнено, "
        "критерии не оцениваются: в полях критериев и результата ставится «незачет». "
        "Отметка «X» ставится в одном из двух полей каждой строки.",
        9,
    )

    y += 5.0
    head = ("Показатель", "Что оценивается", "зачет", "незачет")
    x = _PROTOCOL_X
    pdf.set_line_width(0.3)
    for width, text in zip(_PROTOCOL_WIDTHS, head, strict=True):
        pdf.rect(x, y, width, 8.0)
        pdf.set_font("Sans", "B", 9)
        pdf.set_xy(x, y)
        pdf.cell(width, 8.0, text, align="C")
        x += width
    y += 8.0
    for name, note, checked in _protocol_rows(work.form):
        x = _PROTOCOL_X
        widths = _PROTOCOL_WIDTHS
        for width in widths:
            pdf.rect(x, y, width, _PROTOCOL_ROW_H)
            x += width
        bold = "B" if name == "Результат" else ""
        lines = [(name, 10.0, "B")] + ([(note, 9.0, "")] if note else [])
        _cell_text(pdf, _PROTOCOL_X + 2.0, y, widths[0] - 4.0, _PROTOCOL_ROW_H, lines)
        _cell_text(
            pdf,
            _PROTOCOL_X + widths[0] + 2.0,
            y,
            widths[1] - 4.0,
            _PROTOCOL_ROW_H,
            [(checked, 10.0, bold)],
        )
        x = _PROTOCOL_X + widths[0] + widths[1]
        pdf.set_line_width(0.5)
        for width in widths[2:]:
            pdf.rect(
                x + (width - _MARK_BOX) / 2,
                y + (_PROTOCOL_ROW_H - _MARK_BOX) / 2,
                _MARK_BOX,
                _MARK_BOX,
            )
            x += width
        pdf.set_line_width(0.3)
        y += _PROTOCOL_ROW_H

    y += 16.0
    pdf.text_at(15.0, y, f"Эксперт (код): {package.expert_code}", 11)
    y += 14.0
    pdf.set_line_width(0.2)
    for x, label, end in ((15.0, "Подпись эксперта", 110.0), (125.0, "Дата", 195.0)):
        pdf.text_at(x, y, label, 11)
        pdf.line(x + pdf.get_string_width(label) + 3.0, y + 4.5, end, y + 4.5)
    pdf.paragraph(
        15.0,
        278.0,
        180.0,
        "Лист эксперта входит в копию работы и не сканируется: результаты переносит на оригинал "
        "бланка регистрации уполномоченное лицо.",
        7.5,
    )


# --- copy pages --------------------------------------------------------------------------------


def _watermark(pdf: _Pdf) -> None:
    """«КОПИЯ» along the page diagonal (bottom-left to top-right), semi-transparent."""
    pdf.set_font("Sans", "B", 100)
    size = 100 * _WATERMARK_WIDTH / pdf.get_string_width(_WATERMARK)
    pdf.set_font("Sans", "B", size)
    width = pdf.get_string_width(_WATERMARK)
    cap = size * 0.3528 * 0.73  # DejaVu Sans Bold cap height, in mm
    cx, cy = PAGE_W / 2, PAGE_H / 2
    angle = math.degrees(math.atan2(PAGE_H, PAGE_W))
    with (
        pdf.local_context(fill_opacity=_WATERMARK_OPACITY, text_color=_WATERMARK_GREY),
        pdf.rotation(angle, x=cx, y=cy),
    ):
        pdf.text(cx - width / 2, cy + cap / 2, _WATERMARK)


def _missing(pdf: _Pdf, page: CopyPage) -> None:
    x, y, w = 25.0, 100.0, 160.0
    pdf.text_at(x + 6.0, y + 7.0, "Страница не получена", 16, "B")
    pdf.text_at(x + 6.0, y + 17.0, page.label, 11)
    reason = page.missing_reason or "Скан этой страницы не поступил в РЦОИ."
    bottom = pdf.paragraph(x + 6.0, y + 26.0, w - 12.0, reason, 11)
    pdf.set_line_width(0.8)
    pdf.rect(x, y, w, max(bottom - y + 7.0, 50.0))


def _copy_page(pdf: _Pdf, work: CopyWork, page: CopyPage, number: int) -> None:
    pdf.add_page()
    # The code unspaced, as in the cover's list: a search of the PDF for a code finds its pages.
    pdf.text_at(8.0, 5.0, f"{work.work_code} · {page.label}", 9, "B")
    pdf.text_right(202.0, 5.0, f"Копия · лист {number} из {len(work.pages)}", 9)
    pdf.set_draw_color(_GREY)
    pdf.set_line_width(0.2)
    pdf.line(8.0, 11.0, 202.0, 11.0)
    if page.image is None:
        pdf.set_draw_color(0)
        _missing(pdf, page)
    else:
        x, y, w, h = _IMAGE_BOX
        # A BytesIO of a JPEG goes into the PDF as it is (DCTDecode): no decoding, no re-encode.
        info = pdf.image(BytesIO(page.image), x, y, w, h, keep_aspect_ratio=True)
        rw, rh = info.rendered_width, info.rendered_height
        pdf.rect(x + (w - rw) / 2, y + (h - rh) / 2, rw, rh)
        pdf.set_draw_color(0)
    _watermark(pdf)


def build_expert_package_pdf(package: ExpertPackage, fonts: Fonts) -> bytes:
    """One expert's package: the cover, then per work its protocol sheet and page copies."""
    _check(package)
    pdf = _Pdf(fonts, f"Комплект копий · {package.school_code} · {package.expert_code}")
    _cover(pdf, package)
    for work in package.works:
        _protocol(pdf, package, work)
        for number, page in enumerate(work.pages, start=1):
            _copy_page(pdf, work, page, number)
    return bytes(pdf.output())
