"""Grading files: the rules of a school year from config/grading/, the schools' electronic
expert protocols in (CSV in UTF-8 or Windows-1251 with `;` or `,`, or XLSX), and the rejected
rows' report out.

A protocol has one header row with the columns of PROTOCOL_COLUMNS (case, «ё» and spaces
aside; «Код работы» and the eight mark columns are required, «Эксперт» is optional). A file
that cannot be read at all raises UnreadableProtocol with a reason the school can act on.
"""

from __future__ import annotations

import csv
import io
from functools import cache
from pathlib import Path

import fastexcel
import polars as pl
import yaml

from tasks.adapters.submission_files import UnreadableSubmission, _decode, _is_xlsx
from tasks.domain.evaluation_rules import PROTOCOL_COLUMNS
from tasks.domain.grading import GradingRules, rules_from_mapping
from tasks.errors import ConfigError, DataError

__all__ = [
    "GRADING_DIR",
    "UnreadableProtocol",
    "grading_rules",
    "read_protocol",
    "write_rejected_rows",
]

GRADING_DIR = Path(__file__).resolve().parents[2] / "config" / "grading"


class UnreadableProtocol(DataError):
    """The whole protocol file is unreadable; `reason` is for the school (Russian)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@cache
def grading_rules(school_year: str, directory: Path = GRADING_DIR) -> GradingRules:
    """The rules of a school year ('2017/18' → config/grading/2017-18.yaml)."""
    path = directory / f"{school_year.replace('/', '-')}.yaml"
    if not path.is_file():
        raise ConfigError(f"no grading rules for the school year {school_year} ({path})")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"grading rules {path} are unreadable: {exc}") from exc
    rules = rules_from_mapping(data)
    if rules.school_year != school_year:
        raise ConfigError(f"{path} holds the rules of {rules.school_year}, not {school_year}")
    return rules


def _key(header: object) -> str:
    return " ".join(str(header or "").replace("ё", "е").replace("Ё", "Е").lower().split())


_FIELDS = {_key(title): name for name, title in PROTOCOL_COLUMNS.items()}


def _table(rows: list[list[str]]) -> pl.DataFrame:
    if not rows:
        raise UnreadableProtocol("Файл пуст: нет строки заголовков протокола.")
    header = [_FIELDS.get(_key(cell)) for cell in rows[0]]
    missing = [
        PROTOCOL_COLUMNS[name]
        for name in PROTOCOL_COLUMNS
        if name != "expert" and name not in header
    ]
    if missing:
        raise UnreadableProtocol(
            "В первой строке нет столбцов: " + ", ".join(f"«{m}»" for m in missing) + ". "
            "Заголовки протокола: " + "; ".join(PROTOCOL_COLUMNS.values()) + "."
        )
    records = []
    for number, cells in enumerate(rows[1:], start=2):
        if not any(str(c or "").strip() for c in cells):
            continue
        record = dict.fromkeys(PROTOCOL_COLUMNS, "")
        for name, cell in zip(header, cells, strict=False):
            if name:
                record[name] = str(cell if cell is not None else "").strip()
        records.append({"row_number": number, **record})
    schema = {"row_number": pl.Int64, **dict.fromkeys(PROTOCOL_COLUMNS, pl.Utf8)}
    return pl.DataFrame(records, schema=schema)


def read_protocol(path: Path) -> pl.DataFrame:
    """The protocol's rows: `row_number` (the line in the file) and one text column per field."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UnreadableProtocol(f"Файл не прочитан: {exc.strerror}") from exc
    try:
        if _is_xlsx(raw):
            return _table(_xlsx_rows(raw))
        text, _ = _decode(raw)
    except UnreadableSubmission as exc:
        raise UnreadableProtocol(_as_protocol(exc.reason)) from exc
    first = text.splitlines()[0] if text else ""
    delimiter = ";" if first.count(";") >= first.count(",") else ","
    return _table(list(csv.reader(io.StringIO(text), delimiter=delimiter)))


def _xlsx_rows(raw: bytes) -> list[list[str]]:
    try:
        sheet = fastexcel.read_excel(raw).load_sheet(
            0, header_row=None, skip_rows=0, dtypes="string"
        )
    except fastexcel.FastExcelError as exc:
        raise UnreadableProtocol(
            "Файл XLSX повреждён, его не удалось открыть. "
            "Откройте его в Excel, сохраните заново и отправьте снова."
        ) from exc
    return [[_cell(v) for v in row] for row in sheet.to_polars().iter_rows()]


def _as_protocol(reason: str) -> str:
    """The submission reader's reason, speaking of the protocol instead of the participants."""
    for said, meant in (
        ("таблицу участников", "протокол"),
        ("таблица участников", "протокол"),
        ("таблицы участников", "протокола"),
        ("таблице участников", "протоколе"),
    ):
        reason = reason.replace(said, meant)
    return reason


def _cell(value: object) -> str:
    """A cell as text. A work code typed into Excel as a number comes back as '1.2e+11' or
    '123456789012.0': 10–12 digits get their leading zeros back."""
    text = "" if value is None else str(value).strip()
    try:
        number = float(text)
    except ValueError:
        return text
    if number.is_integer() and 10**9 <= number < 10**12:
        return f"{int(number):012d}"
    if number.is_integer():
        return str(int(number))
    return text


def write_rejected_rows(path: Path, rejected: list[tuple[int, dict[str, str], list[str]]]) -> Path:
    """The school's report of rejected rows (UTF-8 with BOM, `;`, so Excel opens it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";")
    writer.writerow(["Строка", *PROTOCOL_COLUMNS.values(), "Причина отклонения"])
    for number, fields, reasons in rejected:
        writer.writerow(
            [number, *(fields.get(k, "") for k in PROTOCOL_COLUMNS), "; ".join(reasons)]
        )
    tmp = path.with_suffix(".tmp")
    tmp.write_text("\ufeff" + buffer.getvalue(), encoding="utf-8")
    tmp.replace(path)
    return path
