"""Read a municipality's (МОУО) submission file — CSV or XLSX — into a frame of text fields.

The reader recognises the file, not its values: it finds the format (by content, not by the
extension), the encoding and delimiter of a CSV, the header row under any title rows, and maps
the headers to the fields of `SUBMISSION_COLUMNS` (with `COLUMN_ALIASES`). Every value comes out
as text, trimmed, so the checks of the collect stage see what the municipality wrote. A bad row
never stops the file: it is kept with `parse_error` set. Only a file that cannot be read as a
whole raises `UnreadableSubmission`, whose reason the МОУО reads; no reason quotes a value, so
no personal data reaches logs or mail.

Nothing in the file is dropped without a word: columns not in the template, a repeated column,
a column without a header that holds values, sheets without a participant table and missing
optional columns become `notes` (Russian, for the report and the mail); a hidden XLSX row is
read and checked like any other and gets a `parse_warning`. A workbook with participant tables
on several sheets is refused: its row numbers could not say which sheet they mean; so is one
with participant rows on a sheet without the header row (a list continued on a second sheet).

Row numbers count the records (CSV) or rows (XLSX) under the header, blank ones included, so
`header_row + row_number` is the row a spreadsheet shows for the file (for a CSV, the line,
unless a quoted cell above holds a line break: a record is one row however many lines it
spans); blank rows themselves are skipped (as in `injected_errors.csv`, 1 is the first data row
under the header).
"""

from __future__ import annotations

import contextlib
import csv
import io
import itertools
import posixpath
import re
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

import fastexcel
import polars as pl

from tasks.domain.participants import COLUMN_ALIASES, REQUIRED_FIELDS, SUBMISSION_COLUMNS
from tasks.domain.submission_rules import plural
from tasks.errors import DataError

__all__ = ["SubmissionTable", "UnreadableSubmission", "read_submission"]

XLSX_MAGIC = b"PK\x03\x04"
UTF8_BOM = b"\xef\xbb\xbf"
DELIMITERS = (";", ",", "\t")
HEADER_SEARCH_ROWS = 15  # title rows above the header fit in this many rows
SHEET_NAME = "Участники"  # the sheet to read when a workbook has several
# A quoted CSV field may span lines (a line break typed in a cell); one spanning more than this
# is taken for an unpaired quote that swallowed the lines after it.
MAX_RECORD_LINES = 20
CHUNK_ROWS = 20_000  # CSV rows held as Python strings at once before they become a frame
UNPAIRED_QUOTE = "непарная кавычка: строка разобрана без учёта кавычек"
SNILS_DIGITS, PASSPORT_SERIES_DIGITS, PASSPORT_NUMBER_DIGITS = 11, 4, 6

_FOREIGN_FORMATS = (  # leading bytes → what the file is, for the reason the МОУО reads
    (b"%PDF", "документ PDF"),
    (b"\xd0\xcf\x11\xe0", "файл старого формата Word или Excel 97–2003 (.doc/.xls)"),
    (b"{\\rtf", "документ RTF"),
    (b"Rar!", "архив RAR"),
    (b"7z\xbc\xaf", "архив 7z"),
    (b"\x1f\x8b", "архив GZip"),
    (b"\x89PNG", "изображение PNG"),
    (b"\xff\xd8\xff", "изображение JPEG"),
)
_SAVE_AS = "Сохраните таблицу участников как XLSX или «CSV UTF-8» и отправьте снова."
_TRAILING_MARKS = " .,:;*!?¹²³⁴⁵⁶⁷⁸⁹⁰†‡"
_PARENTHESES = re.compile(r"\([^()]*\)")
_SPACES = r"[\u00a0\u2007\u202f]"  # no-break and figure spaces Excel and Word put in text
_INVISIBLE = r"[\u200b\u200c\u200d\u2060\ufeff]"  # zero-width characters pasted from the web
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+")  # as csv splits lines: CR, LF, CRLF
_EXCEL_DATETIME = r"^(\d{4})-(\d{2})-(\d{2}) \d{2}:\d{2}:\d{2}(?:\.\d+)?$"
HIDDEN_ROW = (
    "строка скрыта в Excel; она прочитана и проверена, как остальные. Если этого участника "
    "в списке быть не должно, удалите строку и пришлите файл снова"
)
_SHOWN_HEADER = 60  # a header quoted in a note is cut to this many characters
_HIDDEN_ROW_TAG = re.compile(rb"<(?:\w+:)?row\b[^>]*>")
_ROW_NUMBER_ATTR = re.compile(rb'\sr="(\d+)"')
_HIDDEN_ATTR = re.compile(rb'\shidden="(?:1|true)"')
_OFFICE_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_PACKAGE_REL = "http://schemas.openxmlformats.org/package/2006/relationships"


class UnreadableSubmission(DataError):
    """The file cannot be read as a whole; `reason` tells the МОУО what to fix."""


@dataclass(frozen=True, slots=True)
class SubmissionTable:
    path: Path
    format: str  # "csv" or "xlsx", from the content
    encoding: str | None  # "utf-8-sig", "utf-8" or "cp1251" for a CSV; None for XLSX
    delimiter: str | None  # ";", "," or "\t" for a CSV; None for XLSX
    header_row: int  # 1-based line (CSV) or row (XLSX) of the header
    # One row per data row: the fields the file has (text), "row_number", "parse_error" (the
    # row cannot be read as it stands: rejected) and "parse_warning" (read, but the МОУО should
    # look at it: a hidden row); "" where there is none.
    frame: pl.DataFrame
    unknown_columns: tuple[str, ...]  # headers that name no field (ignored), as written
    missing_columns: tuple[str, ...]  # optional fields the file lacks (absent from frame)
    # What was not read, or read from an unusual place, said to the МОУО (Russian sentences
    # that quote headers and sheet names, never a value): the report and the mail carry them.
    notes: tuple[str, ...] = ()


def read_submission(path: Path) -> SubmissionTable:
    """Read one МОУО file; raises `UnreadableSubmission` if it cannot be read as a whole.
    An error reading the disk (OSError) is not the municipality's and propagates."""
    raw = path.read_bytes()
    if not raw.strip():
        raise UnreadableSubmission("Файл пустой. " + _SAVE_AS)
    if _is_xlsx(raw):
        return _read_xlsx(path, raw)
    text, encoding = _decode(raw)
    del raw  # a large file is held once, as text
    return _read_csv(path, text, encoding)


# --- headers -----------------------------------------------------------------------------------


def _normalise(header: str) -> str:
    """Lower case, «ё» as «е», single spaces, no trailing punctuation or footnote marks."""
    text = re.sub(_INVISIBLE, "", header).lower().replace("ё", "е")
    return " ".join(text.split()).rstrip(_TRAILING_MARKS)


def _without_notes(key: str) -> str:
    return _normalise(_PARENTHESES.sub(" ", key))


def _header_lookup() -> dict[str, str]:
    lookup: dict[str, str] = {}
    for field, header in SUBMISSION_COLUMNS.items():
        for spelling in (header, *COLUMN_ALIASES.get(field, ())):
            key = _normalise(spelling)
            for variant in (key, _without_notes(key)):
                if variant:
                    lookup.setdefault(variant, field)
    return lookup


_HEADER_LOOKUP = _header_lookup()
_FULL_NAME_HEADERS = frozenset({"фио", "ф.и.о", "фамилия имя отчество", "фамилия, имя, отчество"})


def _field_of(header: str) -> str | None:
    key = _normalise(header)
    return _HEADER_LOOKUP.get(key) or _HEADER_LOOKUP.get(_without_notes(key))


@dataclass(frozen=True, slots=True)
class _Header:
    columns: dict[str, int]  # field → index of its column
    unknown: tuple[str, ...]
    width: int  # cells up to the last non-empty header
    cells: int  # cells in the header row, empty trailing ones included
    texts: tuple[str, ...] = ()  # every header cell, spaces folded ("" for an empty one)

    @property
    def unnamed(self) -> list[int]:
        """Indices of the columns without a header, up to the last named one."""
        return [i for i, text in enumerate(self.texts[: self.width]) if not text]

    @property
    def required(self) -> int:
        return sum(field in self.columns for field in REQUIRED_FIELDS)


def _match_header(cells: Sequence[str]) -> _Header:
    """Map header cells to fields; a second column for a field already found is unknown."""
    columns: dict[str, int] = {}
    unknown: list[str] = []
    width = 0
    texts = [" ".join(re.sub(_SPACES, " ", cell).split()) for cell in cells]
    for index, text in enumerate(texts):
        if not text:
            continue  # a column without a header is not read (a note if it holds values)
        width = index + 1
        field = _field_of(text)
        if field is None or field in columns:
            unknown.append(text)
        else:
            columns[field] = index
    return _Header(columns, tuple(unknown), width, len(cells), tuple(texts))


def _best_header(rows: Sequence[tuple[int, Sequence[str]]]) -> tuple[int, _Header] | None:
    """The row (numbered) naming the most fields, if it names at least half the required."""
    best: tuple[int, _Header] | None = None
    for number, cells in rows:
        header = _match_header(cells)
        if best is None or len(header.columns) > len(best[1].columns):
            best = (number, header)
    if best is None or 2 * best[1].required < len(REQUIRED_FIELDS):
        return None
    return best


_FULL_NAME_HINT = " Фамилию, имя и отчество указывают в трёх отдельных столбцах."


def _no_header(rows: Sequence[Sequence[str]]) -> UnreadableSubmission:
    names = "», «".join(SUBMISSION_COLUMNS[field] for field in REQUIRED_FIELDS[:4])
    reason = (
        f"Не найдена строка заголовков: в первых {HEADER_SEARCH_ROWS} строках нет строки "
        f"со столбцами «{names}» и другими из образца."
    )
    if any(_normalise(cell) in _FULL_NAME_HEADERS for row in rows for cell in row):
        reason += _FULL_NAME_HINT
    return UnreadableSubmission(reason + " " + _SAVE_AS)


def _check_required(header: _Header) -> None:
    missing = [SUBMISSION_COLUMNS[f] for f in REQUIRED_FIELDS if f not in header.columns]
    if missing:
        names = "», «".join(missing)
        reason = f"В файле нет обязательных столбцов: «{names}»."
        if any(_normalise(cell) in _FULL_NAME_HEADERS for cell in header.unknown):
            reason += _FULL_NAME_HINT
        raise UnreadableSubmission(reason + " Добавьте их с заголовками из образца.")


def _table(
    path: Path,
    fmt: str,
    encoding: str | None,
    delimiter: str | None,
    header_row: int,
    header: _Header,
    frame: pl.DataFrame,
    notes: Sequence[str] = (),
) -> SubmissionTable:
    if frame.is_empty():
        raise UnreadableSubmission("В файле есть заголовки, но нет ни одной строки с участниками.")
    fields = [field for field in SUBMISSION_COLUMNS if field in header.columns]
    missing = tuple(field for field in SUBMISSION_COLUMNS if field not in header.columns)
    return SubmissionTable(
        path=path,
        format=fmt,
        encoding=encoding,
        delimiter=delimiter,
        header_row=header_row,
        frame=frame.select(*fields, "row_number", "parse_error", "parse_warning"),
        unknown_columns=header.unknown,
        missing_columns=missing,
        notes=(*notes, *_column_notes(header, missing)),
    )


def _quoted(texts: Sequence[str]) -> str:
    shown = [t if len(t) <= _SHOWN_HEADER else t[: _SHOWN_HEADER - 1] + "…" for t in texts]
    return "«" + "», «".join(shown) + "»"


def _column_notes(header: _Header, missing: Sequence[str]) -> list[str]:
    """What the МОУО should know about the columns: those not read, those absent."""
    notes = []
    repeated = [text for text in header.unknown if _field_of(text) is not None]
    foreign = [text for text in header.unknown if _field_of(text) is None]
    if foreign:
        notes.append(
            f"Столбцы не из образца не прочитаны: {_quoted(foreign)}. Если в них сведения "
            "об участниках, перенесите их в столбцы образца."
        )
    if repeated:
        notes.append(
            f"Столбцы повторяются: {_quoted(repeated)} — прочитан первый из одинаковых, "
            "следующие не прочитаны."
        )
    if missing:
        names = [SUBMISSION_COLUMNS[field] for field in missing]
        notes.append(
            f"В файле нет необязательных столбцов {_quoted(names)}: их значения считаются "
            "незаполненными."
        )
    return notes


def _unnamed_note(header: _Header, index: int) -> str:
    before = next((t for t in reversed(header.texts[:index]) if t), "")
    where = f"после столбца {_quoted([before])}" if before else "первый в таблице"
    return (
        f"Столбец без заголовка ({where}) не прочитан, хотя в нём есть значения: дайте ему "
        "заголовок из образца или удалите его."
    )


def _clean(fields: Sequence[str]) -> list[pl.Expr]:
    """Text as a person reads it: no-break spaces as spaces, no invisible characters, trimmed."""
    return [
        pl.col(field)
        .fill_null("")
        .str.replace_all(_SPACES, " ")
        .str.replace_all(_INVISIBLE, "")
        .str.strip_chars()
        for field in fields
    ]


# --- format and encoding -----------------------------------------------------------------------


def _is_xlsx(raw: bytes) -> bool:
    """True for an XLSX workbook; raises for other binary files, False for text."""
    if raw.startswith(XLSX_MAGIC):
        try:
            with zipfile.ZipFile(io.BytesIO(raw)) as archive:
                names = set(archive.namelist())
        except (zipfile.BadZipFile, OSError, ValueError) as exc:
            raise UnreadableSubmission(
                "Файл XLSX повреждён или передан не полностью (обрезан). "
                "Откройте его в Excel, сохраните заново и отправьте снова."
            ) from exc
        if "xl/workbook.xml" in names:
            return True
        kind = (
            "документ Word (DOCX)"
            if "word/document.xml" in names
            else "таблица OpenDocument (ODS)"
            if "content.xml" in names
            else "архив ZIP"
        )
        raise UnreadableSubmission(f"Файл — {kind}, а не таблица участников. {_SAVE_AS}")
    for magic, kind in _FOREIGN_FORMATS:
        if raw.startswith(magic):
            raise UnreadableSubmission(f"Файл — {kind}, а не таблица участников. {_SAVE_AS}")
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise UnreadableSubmission(
            "Файл в кодировке UTF-16 («Текст Юникод»), её программа не читает. " + _SAVE_AS
        )
    if b"\x00" in raw:
        raise UnreadableSubmission("Файл не текстовый и не XLSX: формат не распознан. " + _SAVE_AS)
    return False


def _decode(raw: bytes) -> tuple[str, str]:
    """The text and its encoding: UTF-8 with a BOM, UTF-8, then Windows-1251, each strict."""
    try:
        if raw.startswith(UTF8_BOM):
            return raw[len(UTF8_BOM) :].decode("utf-8"), "utf-8-sig"
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as exc:
        start = exc.start + (len(UTF8_BOM) if raw.startswith(UTF8_BOM) else 0)
        before = raw[:start]
        # Cyrillic text in UTF-8 before the first bad byte, across a line: the file was UTF-8
        # and some lines were added in another encoding (a merge of school files).
        if raw.startswith(UTF8_BOM) or (b"\n" in before and not before.isascii()):
            line = before.count(b"\n") + 1
            raise UnreadableSubmission(
                f"Файл в смешанной кодировке: начало в UTF-8, а строка {line} — в другой "
                "кодировке. Сохраните весь файл в одной кодировке. " + _SAVE_AS
            ) from exc
    try:
        return raw.decode("cp1251"), "cp1251"
    except UnicodeDecodeError as exc:
        raise UnreadableSubmission(
            "Файл не удалось прочитать ни в кодировке UTF-8, ни в Windows-1251. " + _SAVE_AS
        ) from exc


# --- CSV ---------------------------------------------------------------------------------------


class _RunawayQuote(Exception):
    """A quoted field has run over more lines than a typed line break explains (a private
    signal inside the CSV loop, never raised out of this module)."""


class _Lines:
    """The physical lines of a text, numbered, for `csv.reader`. The lines taken since the last
    record are kept, so each record's first line and raw text are known, and lines can be
    given back to be read again after an unpaired quote."""

    def __init__(self, text: str, skip: int = 0) -> None:
        self._source = _LINE.finditer(text)  # io.StringIO would hold a second, wider copy
        self._number = sum(1 for _ in itertools.islice(self._source, skip))
        self._back: list[tuple[int, str]] = []  # given back, last to read first
        self.taken: list[tuple[int, str]] = []

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        if len(self.taken) >= MAX_RECORD_LINES:
            raise _RunawayQuote
        line = self._back.pop() if self._back else self._read()
        self.taken.append(line)
        return line[1]

    def _read(self) -> tuple[int, str]:
        self._number += 1
        return self._number, next(self._source).group()

    def take(self) -> list[tuple[int, str]]:
        taken, self.taken = self.taken, []
        return taken

    def give_back(self, lines: Sequence[tuple[int, str]]) -> None:
        self._back.extend(reversed(lines))


def _records(
    text: str, delimiter: str, fits: Callable[[list[str]], bool], skip: int = 0
) -> Iterator[tuple[int, list[str], str]]:
    """(record number, fields, note) of each CSV record after line `skip`, numbered from 1 as a
    spreadsheet numbers its rows: a record spanning several lines (a quoted cell with a line
    break) is one row, a blank line is one. Such a record must `fit` the header; one that does
    not is taken for an unpaired quote that swallowed the lines after it: its first line is
    split as it stands, noted, and the lines after it are read again as records of their own."""
    lines = _Lines(text, skip)
    reader = csv.reader(lines, delimiter=delimiter)
    for record in itertools.count(1):
        try:
            fields: list[str] | None = next(reader)
        except StopIteration:
            return
        except (csv.Error, _RunawayQuote):
            fields = None
        taken = lines.take()
        if fields is not None and (len(taken) == 1 or fits(fields)):
            yield record, fields, ""
            continue
        first, rest = taken[0][1], taken[1:]
        lines.give_back(rest)
        yield record, first.rstrip("\r\n").split(delimiter), UNPAIRED_QUOTE


def _find_csv_header(text: str) -> tuple[str, int, int, _Header]:
    """Delimiter, header line (its last line if a quoted header cell holds a line break), header
    record (the row a spreadsheet shows it on) and header: the record among the first ones
    that, split by some delimiter, names most fields."""
    best: tuple[str, int, int, _Header] | None = None
    seen: list[list[str]] = []
    for delimiter in DELIMITERS:
        rows: list[tuple[int, list[str]]] = []
        last_lines: dict[int, int] = {}  # record → its last line
        lines = _Lines(text)
        reader = csv.reader(lines, delimiter=delimiter)
        with contextlib.suppress(csv.Error, _RunawayQuote):
            for record, fields in enumerate(reader, start=1):
                number = lines.take()[-1][0]
                rows.append((record, fields))
                last_lines[record] = number
                if number >= HEADER_SEARCH_ROWS:
                    break
        seen.extend(fields for _, fields in rows)
        found = _best_header(rows)
        if found and (best is None or len(found[1].columns) > len(best[3].columns)):
            best = (delimiter, last_lines[found[0]], *found)
    if best is None:
        raise _no_header(seen)
    return best


def _field_count_error(count: int, width: int) -> str:
    return f"в строке {count} {plural(count, 'поле', 'поля', 'полей')} вместо {width}"


def _shape(fields: list[str], header: _Header) -> tuple[list[str], str]:
    """Fields cut or padded to the header's cells, and the error if the count was wrong. Empty
    cells past the header and missing cells of unnamed trailing columns are no error."""
    count, total = len(fields), header.cells
    if count == total:
        return fields, ""
    if count > total:
        extra = fields[total:]
        error = "" if not "".join(extra).strip() else _field_count_error(count, header.width)
        return fields[:total], error
    error = "" if count >= header.width else _field_count_error(count, header.width)
    return fields + [""] * (total - count), error


def _other_delimiter(raw_line: str, delimiter: str, width: int) -> str:
    for other in DELIMITERS:
        if other != delimiter and len(next(csv.reader([raw_line], delimiter=other))) == width:
            return f"; похоже, поля разделены {_shown(other)}, а не {_shown(delimiter)}"
    return ""


def _shown(delimiter: str) -> str:
    return "табуляцией" if delimiter == "\t" else f"знаком «{delimiter}»"


def _read_csv(path: Path, text: str, encoding: str) -> SubmissionTable:
    delimiter, header_line, header_row, header = _find_csv_header(text)
    _check_required(header)
    fields = list(header.columns)
    chunks: list[pl.DataFrame] = []
    values: list[list[str]] = []
    numbers: list[int] = []
    errors: list[str] = []
    unnamed = header.unnamed
    unnamed_with_values: set[int] = set()

    def flush() -> None:
        if numbers:
            columns = list(zip(*values, strict=True))
            data = {f: pl.Series(f, columns[i], pl.Utf8) for f, i in header.columns.items()}
            data["row_number"] = pl.Series("row_number", numbers, pl.Int64)
            data["parse_error"] = pl.Series("parse_error", errors, pl.Utf8)
            data["parse_warning"] = pl.Series("parse_warning", [""] * len(numbers), pl.Utf8)
            chunks.append(pl.DataFrame(data).with_columns(_clean(fields)))
        values.clear()
        numbers.clear()
        errors.clear()

    def fits(row: list[str]) -> bool:
        return not _shape(row, header)[1]

    for number, row, note in _records(text, delimiter, fits, skip=header_line):
        if not (row and row[0].strip()) and not "".join(row).strip():
            continue  # a blank line, or one of delimiters only
        shaped, error = _shape(row, header)
        if error and not note:
            error += _other_delimiter(delimiter.join(row), delimiter, header.width)
        values.append(shaped)
        numbers.append(number)
        errors.append(f"{note}; {error}" if note and error else note or error)
        for index in unnamed:
            if index not in unnamed_with_values and shaped[index].strip():
                unnamed_with_values.add(index)
        if len(numbers) >= CHUNK_ROWS:
            flush()
    flush()
    empty = {f: pl.Utf8 for f in fields} | {
        "row_number": pl.Int64,
        "parse_error": pl.Utf8,
        "parse_warning": pl.Utf8,
    }
    frame = pl.concat(chunks, rechunk=False) if chunks else pl.DataFrame(schema=empty)
    notes = [_unnamed_note(header, index) for index in sorted(unnamed_with_values)]
    return _table(path, "csv", encoding, delimiter, header_row, header, frame, notes)


# --- XLSX --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Sheet:
    """One worksheet as text cells, with the participant header found on it (if any)."""

    name: str
    hidden: bool
    table: pl.DataFrame
    top: list[tuple[str, ...]]  # the first rows, where the header is looked for
    found: tuple[int, _Header] | None  # (1-based row, header)

    @property
    def label(self) -> str:
        return f"«{self.name}»" + (" (скрытый)" if self.hidden else "")

    @property
    def empty(self) -> bool:
        return not self.table.columns or not bool(_any_value(self.table).any())

    @property
    def has_rows(self) -> bool:
        """True when some row under the header holds a value: a table of participants."""
        if self.found is None:
            return False
        below = self.table.slice(self.found[0])
        return not below.is_empty() and bool(_any_value(below).any())


def _any_value(table: pl.DataFrame) -> pl.Series:
    """Per row: does it hold a value (not only spaces)?"""
    return table.select(
        pl.any_horizontal(pl.col(table.columns).fill_null("").str.strip_chars() != "")
    ).to_series()


def _load_sheet(workbook: fastexcel.ExcelReader, name: str) -> _Sheet:
    sheet = workbook.load_sheet(name, header_row=None, skip_rows=0, dtypes="string")
    table = sheet.to_polars()
    top = [
        tuple("" if cell is None else str(cell) for cell in row)
        for row in table.head(HEADER_SEARCH_ROWS).iter_rows()
    ]
    found = _best_header(list(enumerate(top, start=1)))
    return _Sheet(name, sheet.visible != "visible", table, top, found)


# A cell a participant row always holds: a СНИЛС (with or without its dashes, or a number that
# lost its leading zeros) or a birth date (typed, or a date cell as fastexcel gives it).
_PARTICIPANT_CELL = (
    r"^(?:[0-9]{3}[- ]?[0-9]{3}[- ]?[0-9]{3}[- ]?[0-9]{2}|[0-9]{9,11}"  # СНИЛС
    r"|[0-9]{2}\.[0-9]{2}\.[0-9]{4}"  # a date typed as text
    r"|[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?)$"  # a date cell
)


def _has_headerless_participants(sheet: _Sheet) -> bool:
    """True for a sheet without a participant header that still holds a row shaped like a
    participant: at least as many filled cells as the required columns, one of them a СНИЛС or
    a date (a list continued on a second sheet without its header). An instruction, a lookup
    list or a single example date fills too few cells to be taken for one."""
    if sheet.found is not None or sheet.empty:
        return False
    cells = [pl.col(name).fill_null("").str.strip_chars() for name in sheet.table.columns]
    filled = pl.sum_horizontal(*(cell != "" for cell in cells))
    marked = pl.any_horizontal(*(cell.str.contains(_PARTICIPANT_CELL) for cell in cells))
    shaped = (filled >= len(REQUIRED_FIELDS)) & marked
    return bool(sheet.table.select(shaped.any()).item())


def _on_sheets(sheets: Sequence[_Sheet]) -> str:
    labels = ", ".join(sheet.label for sheet in sheets)
    return ("на листе " if len(sheets) == 1 else "на листах ") + labels


def _headerless_refusal(
    tables: Sequence[_Sheet], headerless: Sequence[_Sheet], templates: Sequence[_Sheet]
) -> UnreadableSubmission:
    """The reason for a workbook with participant rows on a sheet without the header row."""
    rows = f"{_on_sheets(headerless)} — строки участников без строки заголовков"
    if tables:
        return UnreadableSubmission(
            f"Участники найдены на нескольких листах: {_on_sheets(tables)} — таблица с "
            f"заголовками из образца, {rows}. Программа читает участников с одного листа: "
            f"перенесите всех в таблицу {_on_sheets(tables[:1])}, с других листов строки "
            "участников удалите и отправьте файл снова."
        )
    if templates:
        todo = f"Перенесите их в таблицу {_on_sheets(templates[:1])}"
    elif len(headerless) > 1:
        todo = "Перенесите всех на один лист, вставьте над ними строку заголовков из образца"
    else:
        todo = "Вставьте над ними строку заголовков из образца"
    where = _on_sheets(headerless)
    return UnreadableSubmission(
        f"{where[0].upper()}{where[1:]} строки участников без строки заголовков: программа не "
        f"может узнать, что в каком столбце. {todo} и отправьте файл снова."
    )


def _participant_sheet(sheets: Sequence[_Sheet]) -> tuple[_Sheet, list[str]]:
    """The one sheet with a participant table, and notes on the other sheets. Tables on several
    sheets, or participant rows on a sheet without the header (a list continued on a second
    sheet), refuse the file: a row number in the report could not say which sheet it means, and
    rows without a header cannot be read column by column."""
    tables = [sheet for sheet in sheets if sheet.has_rows]
    if len(tables) > 1:
        names = ", ".join(sheet.label for sheet in tables)
        raise UnreadableSubmission(
            f"Таблицы участников найдены на нескольких листах: {names}. Программа читает "
            "участников с одного листа: перенесите всех на один лист «Участники», с других "
            "листов таблицы участников удалите и отправьте файл снова."
        )
    in_use = [sheet for sheet in sheets if not sheet.empty]
    if len(in_use) > 1:  # one sheet without a header: the no-header reason says it all
        headerless = [sheet for sheet in in_use if _has_headerless_participants(sheet)]
        if headerless:
            templates = [sheet for sheet in in_use if sheet.found and not sheet.has_rows]
            raise _headerless_refusal(tables, headerless, templates)
    named = [s for s in sheets if _normalise(s.name) == _normalise(SHEET_NAME)]
    # No table: the sheet whose header is found (the error names what it lacks), else the one
    # named «Участники» or the first (the error says no header was found).
    headed = [sheet for sheet in named if sheet.found] or [s for s in sheets if s.found]
    chosen = (tables or headed or named or list(sheets))[0]
    notes = [
        f"Лист {sheet.label} не прочитан: на нём есть заголовки из образца, но нет ни одной "
        "строки с участниками."
        if sheet.found
        else f"Лист {sheet.label} не прочитан: на нём нет таблицы участников с заголовками из "
        "образца. Если на нём есть участники, перенесите их на лист с таблицей."
        for sheet in sheets
        if sheet is not chosen and not sheet.empty
    ]
    if chosen.hidden:  # not `label`: it would say «скрытый» a second time
        notes.insert(0, f"Участники прочитаны со скрытого листа «{chosen.name}».")
    return chosen, notes


def _read_xlsx(path: Path, raw: bytes) -> SubmissionTable:
    try:
        workbook = fastexcel.read_excel(raw)
        sheets = [_load_sheet(workbook, name) for name in workbook.sheet_names]
    except fastexcel.FastExcelError as exc:
        raise UnreadableSubmission(
            "Файл XLSX повреждён, его не удалось открыть. "
            "Откройте его в Excel, сохраните заново и отправьте снова."
        ) from exc
    if not sheets:
        raise _no_header([])
    chosen, notes = _participant_sheet(sheets)
    if chosen.found is None:
        raise _no_header(chosen.top)
    header_row, header = chosen.found
    _check_required(header)
    table = chosen.table
    names_by_index = table.columns
    fields = list(header.columns)
    body = (
        table.slice(header_row)
        .with_row_index("row_number", offset=1)
        .with_columns(pl.col("row_number").cast(pl.Int64))
    )
    # A fully empty row is skipped, wherever it is (its number still counts).
    body = body.filter(pl.any_horizontal(pl.col(names_by_index).str.strip_chars() != ""))
    notes += [
        _unnamed_note(header, index)
        for index in header.unnamed
        if body[names_by_index[index]].fill_null("").str.strip_chars().ne("").any()
    ]
    # fastexcel numbers a sheet's rows from 1 (leading empty rows kept), as Excel does.
    hidden = sorted(row - header_row for row in _hidden_rows(raw, chosen.name) if row > header_row)
    body = body.select(
        *(pl.col(names_by_index[header.columns[f]]).alias(f) for f in fields),
        "row_number",
        pl.lit("", pl.Utf8).alias("parse_error"),
        pl.when(pl.col("row_number").is_in(hidden))
        .then(pl.lit(HIDDEN_ROW))
        .otherwise(pl.lit(""))
        .alias("parse_warning"),
    ).with_columns(_clean(fields))
    if "birth_date" in header.columns:
        # A date cell comes as "2008-03-01 00:00:00": shown as the file shows it, ДД.ММ.ГГГГ.
        body = body.with_columns(
            pl.col("birth_date").str.replace(_EXCEL_DATETIME, "$3.$2.$1"),
        )
    body = _restore_leading_zeros(body, workbook, chosen.name, names_by_index, header, header_row)
    return _table(path, "xlsx", None, None, header_row, header, body, notes)


def _hidden_rows(raw: bytes, sheet_name: str) -> set[int]:
    """The 1-based numbers of the sheet's hidden rows (hidden by hand or by a filter), read from
    the sheet's XML, which fastexcel does not expose. A part that cannot be found gives none:
    the rows are still read, only the warning is lost."""
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            part = _sheet_part(archive, sheet_name)
            if part is None:
                return set()
            xml = archive.read(part)
    except (zipfile.BadZipFile, KeyError, OSError, ElementTree.ParseError):
        return set()
    hidden = set()
    for tag in _HIDDEN_ROW_TAG.finditer(xml):
        if _HIDDEN_ATTR.search(tag.group()):
            number = _ROW_NUMBER_ATTR.search(tag.group())
            if number:
                hidden.add(int(number.group(1)))
    return hidden


def _sheet_part(archive: zipfile.ZipFile, sheet_name: str) -> str | None:
    """The archive path of the worksheet named `sheet_name` (workbook.xml → its relationships)."""
    workbook = ElementTree.fromstring(archive.read("xl/workbook.xml"))
    rel_id = next(
        (
            sheet.get(f"{{{_OFFICE_REL}}}id")
            for sheet in workbook.iter(f"{{{_MAIN_NS}}}sheet")
            if sheet.get("name") == sheet_name
        ),
        None,
    )
    rels = ElementTree.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
    target = next(
        (
            rel.get("Target")
            for rel in rels.iter(f"{{{_PACKAGE_REL}}}Relationship")
            if rel.get("Id") == rel_id
        ),
        None,
    )
    if rel_id is None or target is None:
        return None
    return posixpath.normpath(target.lstrip("/") if target.startswith("/") else "xl/" + target)


def _restore_leading_zeros(
    body: pl.DataFrame,
    workbook: fastexcel.ExcelReader,
    sheet: str,
    columns: list[str],
    header: _Header,
    header_row: int,
) -> pl.DataFrame:
    """Excel keeps a СНИЛС or passport series typed as a number without its leading zeros:
    such a numeric cell is left-padded (СНИЛС to 11 digits; a Russian passport's series to 4
    and number to 6). Text cells are kept as typed: a short one there is the МОУО's error."""
    pads = {
        "snils": (SNILS_DIGITS, pl.lit(True)),
        "document_series": (PASSPORT_SERIES_DIGITS, _is_passport(header)),
        "document_number": (PASSPORT_NUMBER_DIGITS, _is_passport(header)),
    }
    short = {
        field: pl.col(field).str.contains(f"^[0-9]{{1,{digits - 1}}}$") & applies
        for field, (digits, applies) in pads.items()
        if field in header.columns
    }
    if not short or not body.select(pl.any_horizontal(*short.values()).any()).item():
        return body  # the usual case: no short digit strings, no second pass over the sheet
    # Read those columns again as booleans: a number becomes true or false, text null. That is
    # the one way fastexcel tells a numeric cell from text that looks like a number.
    wanted = {columns[header.columns[field]]: field for field in short}
    cells = workbook.load_sheet(  # use_columns by name: its numbers count from column A
        sheet, header_row=None, skip_rows=0, dtypes="boolean", use_columns=list(wanted)
    ).to_polars()
    numeric = (
        cells.slice(header_row)
        .with_row_index("row_number", offset=1)
        .select(
            pl.col("row_number").cast(pl.Int64),
            *(pl.col(name).is_not_null().alias(f"_numeric_{f}") for name, f in wanted.items()),
        )
    )
    body = body.join(numeric, on="row_number", how="left")
    return body.with_columns(
        pl.when(condition & pl.col(f"_numeric_{field}"))
        .then(pl.col(field).str.zfill(pads[field][0]))
        .otherwise(pl.col(field))
        .alias(field)
        for field, condition in short.items()
    ).drop(f"_numeric_{field}" for field in short)


def _is_passport(header: _Header) -> pl.Expr:
    if "document_type" not in header.columns:
        return pl.lit(False)
    kind = pl.col("document_type").str.to_lowercase()
    return kind.str.contains("паспорт") & ~kind.str.contains("иностран")
