"""The checks of the `submission` contract over a МОУО's rows, vectorised with polars.

`prepare` normalises the values (whitespace, letter case, СНИЛС punctuation, a birth date typed
as an Excel serial number) and computes one boolean column per computed rule plus its Russian
reason; Great Expectations then runs the suite
over that frame (adapters/contracts.py). `failures_in_frame` gives the same failures without GX,
for unit tests and as a cross-check. `split_rows` turns failures into accepted and rejected rows.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import polars as pl

from tasks.domain.contracts import Contract, Rule, check_column, reason_column, value_column
from tasks.domain.identifiers import (
    DOCUMENT_TYPE_NAMES_RU,
    parse_document,
    parse_name,
    parse_snils,
)
from tasks.domain.participants import CATEGORY_NAMES_RU, MANDATORY, SUBMISSION_COLUMNS, Category
from tasks.errors import InvalidIdentifier

__all__ = [
    "SubmissionContext",
    "failures_in_frame",
    "foreign_inbox_owner",
    "plural",
    "prepare",
    "split_rows",
]

_NAME = r"^[А-ЯЁа-яё]+(?:[\- '][А-ЯЁа-яё]+)*$"
_CATEGORY_CODES = {name.lower(): code.value for code, name in CATEGORY_NAMES_RU.items()}
_DOCUMENT_CODES = {name.lower(): code.value for code, name in DOCUMENT_TYPE_NAMES_RU.items()}
_YES_NO = {"да": "да", "нет": "нет", "1": "да", "0": "нет", "+": "да", "-": "нет", "": ""}
_SEX = {"м": "М", "муж": "М", "мужской": "М", "ж": "Ж", "жен": "Ж", "женский": "Ж"}
_FIELD_LABELS = {"surname": "фамилия", "name": "имя", "patronymic": "отчество"}
# A date typed into a General-format cell is kept by Excel as its serial number (days since
# 30.12.1899): 39448 is 01.01.2008. Read as a date only within 01.01.1910…31.12.2099, so that a
# bare year (2008) or a short number is never taken for a date; the age rules judge the rest.
_EXCEL_EPOCH = date(1899, 12, 30)
_SERIAL_RANGE = ((date(1910, 1, 1) - _EXCEL_EPOCH).days, (date(2099, 12, 31) - _EXCEL_EPOCH).days)
_SERIAL = r"^([0-9]{4,5})(?:[.,]0+)?$"
# Excel (and LibreOffice) take a cell starting with one of these for a formula; a lone dash, the
# usual "none" placeholder, stays text.
_FORMULA_START = "=+-@"
# Documents whose own format allows digits and letters only (a passport: 4 + 6 digits; a birth
# certificate: «IV-МЮ» and 6 digits). A formula-like series or number of theirs is one message,
# the document rule's, which says what the value must be: the plain-text rule stays silent.
# For the other documents (free form) it is the other way round: the plain-text rule names the
# sign, and the document rule judges the rest of the document as if that cell were fine.
_STRICT_DOCUMENTS = ("passport_rf", "birth_certificate")
_DOCUMENT_FIELDS = ("document_series", "document_number")


@dataclass(frozen=True, slots=True)
class SubmissionContext:
    """What the checks need beyond the rows: whose file it is and what the registry knows."""

    mouo_code: str
    exam_date: date
    known_schools: frozenset[str] | None = None  # the МОУО's schools in the registry, if loaded


def _text(field: str) -> pl.Expr:
    # NFC first: a decomposed «й»/«ё» (macOS exports) would fail the Cyrillic and set checks
    text = pl.col(field).fill_null("").str.normalize("NFC")
    return text.str.replace_all("\u00a0", " ").str.strip_chars()


def _normalised(frame: pl.DataFrame) -> list[pl.Expr]:
    """Value columns with whitespace and letter-case noise removed."""
    exprs = []
    for field in SUBMISSION_COLUMNS:
        if field not in frame.columns:
            exprs.append(pl.lit("").alias(value_column(field)))
            continue
        text = _text(field)
        if field in _FIELD_LABELS:
            # fold runs of spaces and capitalise each part, as identifiers.normalize_name does
            text = text.str.replace_all(r"\s+", " ").str.replace_all(r"\s*-\s*", "-")
            text = text.str.to_lowercase().str.to_titlecase()
        elif field == "sex":
            text = text.str.to_lowercase().replace(_SEX)
        elif field == "category":
            lowered = text.str.to_lowercase().str.replace_all(r"\s+", " ")
            text = lowered.replace_strict(
                {name: CATEGORY_NAMES_RU[Category(code)] for name, code in _CATEGORY_CODES.items()},
                default=text,
            )
        elif field in ("form", "oral", "ovz"):
            text = text.str.to_lowercase()
            if field != "form":
                text = text.replace(_YES_NO)
        elif field == "snils":
            text = text.str.replace_all(r"[\s\-]", "")
        elif field == "birth_date":
            text = _serial_date(text)
        exprs.append(text.alias(value_column(field)))
    return exprs


def _serial_date(text: pl.Expr) -> pl.Expr:
    """An Excel serial number within `_SERIAL_RANGE` as ДД.ММ.ГГГГ; any other text unchanged."""
    serial = text.str.extract(_SERIAL, 1).cast(pl.Int64, strict=False)
    day = pl.lit(_EXCEL_EPOCH) + pl.duration(days=serial)
    low, high = _SERIAL_RANGE
    return pl.when(serial.is_between(low, high)).then(day.dt.strftime("%d.%m.%Y")).otherwise(text)


def _reason(
    frame: pl.DataFrame, ok: pl.Series, compute: Callable[[dict[str, str]], str]
) -> pl.Series:
    """Reasons for the failing rows only (few), computed by the identifier parsers."""
    reasons: list[str | None] = [None] * frame.height
    failing = (~ok).arg_true().to_list()
    for index, row in zip(failing, frame[failing].iter_rows(named=True), strict=True):
        reasons[index] = compute(row)
    return pl.Series(reasons, dtype=pl.Utf8)


def _why(parse: Callable[[], object]) -> str:
    try:
        parse()
    except InvalidIdentifier as exc:
        return exc.reason
    return "значение не прошло проверку"


def _snils_ok(value: pl.Expr) -> pl.Expr:
    digits = [value.str.slice(i, 1).cast(pl.Int64, strict=False) for i in range(11)]
    total = sum((digit * (9 - i) for i, digit in enumerate(digits[:9])), pl.lit(0))
    check = pl.when(total < 100).then(total).otherwise(total % 101)
    check = pl.when(check >= 100).then(0).otherwise(check)
    body = value.str.slice(0, 9).cast(pl.Int64, strict=False)
    return (
        value.str.contains(r"^[0-9]{11}$")
        & (body > 1_001_998)
        & (check == value.str.slice(9, 2).cast(pl.Int64, strict=False))
    ).fill_null(False)


_DATE_SHAPE = re.compile(r"^[0-9]{2}\.[0-9]{2}\.[0-9]{4}$")


def _birth_date(frame: pl.DataFrame) -> pl.Series:
    raw = frame[value_column("birth_date")]
    well_formed = raw.str.contains(_DATE_SHAPE.pattern)
    parsed = raw.str.strptime(pl.Date, "%d.%m.%Y", strict=False)
    return pl.select(pl.when(well_formed).then(parsed)).to_series()


def _computed(
    frame: pl.DataFrame, rule: Rule, ctx: SubmissionContext, contract: Contract
) -> tuple[pl.Series, pl.Series | None]:
    """(ok, reason) of one computed rule over the prepared frame."""
    v = {field: frame[value_column(field)] for field in SUBMISSION_COLUMNS}
    category = v["category"].str.to_lowercase().replace_strict(_CATEGORY_CODES, default="")
    column = v.get(rule.column)
    match rule.kind:
        case "parsed":
            ok = frame["parse_error"].fill_null("") == ""
            return ok, frame["parse_error"]
        case "parse_warning":
            ok = frame["parse_warning"].fill_null("") == ""
            return ok, frame["parse_warning"]
        case "plain_text":
            assert column is not None
            ok, reasons = _plain_text(column)
            if rule.column in _DOCUMENT_FIELDS:
                ok = ok | _document_kind(frame).is_in(_STRICT_DOCUMENTS)
            return ok, reasons
        case "name":
            assert column is not None
            ok = column.str.contains(_NAME) | (column == "")  # emptiness: the not_empty rule
            label = _FIELD_LABELS[rule.column]
            return ok, _reason(
                frame,
                ok,
                lambda row: _why(lambda: parse_name(row[value_column(rule.column)], label)),
            )
        case "date":
            birth = _birth_date(frame)
            ok = birth.is_not_null() | (v["birth_date"] == "")
            return ok, _reason(
                frame,
                ok,
                lambda row: (
                    "такой даты нет в календаре"
                    if _DATE_SHAPE.match(row[value_column("birth_date")])
                    else "ожидается ДД.ММ.ГГГГ"  # also '2000-03-15', '15/03/2000'
                ),
            )
        case "age_for_category":
            return _age_rule(frame, rule, ctx, category)
        case "age_usual":
            return _usual_age_rule(frame, rule, ctx, category, contract)
        case "document":
            return _document_rule(frame)
        case "snils":
            ok = pl.select(_snils_ok(pl.lit(v["snils"]))).to_series() | (v["snils"] == "")
            return ok, _reason(
                frame, ok, lambda row: _why(lambda: parse_snils(row[value_column("snils")]))
            )
        case "exposition_eligible":
            exposition = v["form"] == "изложение"
            mandatory = category.is_in([c.value for c in MANDATORY])
            eligible = (v["ovz"] == "да") | category.is_in(
                [Category.STUDENT_CLOSED.value, Category.STUDENT_HOME.value]
            )
            return ~(exposition & mandatory & ~eligible), None
        case "essay_only":
            voluntary = category.is_in(rule.categories or [])
            return ~(voluntary & (v["form"] == "изложение")), None
        case "oral_needs_ovz":
            return ~((v["oral"] == "да") & (v["ovz"] != "да")), None
        case "ovz_document":
            return ~((v["ovz"] == "да") & (v["ovz_document"] == "")), None
        case "school_of_mouo":
            return _school_rule(frame, ctx)
        case "attempt":
            return v["attempt"].is_in(["", "1", "2", "3"]), None
        case "class_for_students":
            student = category.is_in([c.value for c in MANDATORY])
            return ~(student & (v["class_name"] == "")), None
        case "unique_in_file":
            return _unique_rule(frame, rule)
    raise ValueError(f"unknown rule kind {rule.kind!r} in rule {rule.id}")


def _plain_text(column: pl.Series) -> tuple[pl.Series, pl.Series]:
    """A free-text value must not start like a spreadsheet formula: it would run in the lists
    built from it (a lone dash, the usual placeholder for "none", is no formula)."""
    first = column.str.slice(0, 1)
    ok = ~(first.is_in(list(_FORMULA_START)) & (column != "-"))
    reasons = pl.select(
        pl.when(~pl.lit(ok)).then(
            pl.format(
                "значение начинается со знака «{}», так в Excel начинается формула; "
                "запишите значение без этого знака",
                pl.lit(first),
            )
        )
    ).to_series()
    return ok, reasons


def _formula_like(text: str) -> bool:
    return text[:1] in _FORMULA_START and text != "-"


def plural(count: int, one: str, few: str, many: str) -> str:
    """The Russian word form for `count`: 1 год, 2 года, 5 лет (21 год, 22 года, 11 лет)."""
    if count % 10 == 1 and count % 100 != 11:
        return one
    if 2 <= count % 10 <= 4 and not 12 <= count % 100 <= 14:
        return few
    return many


def _years_text(years: pl.Series) -> pl.Series:
    """«22 года», «71 год», «90 лет» per row (null where the age is unknown)."""
    texts = {n: f"{n} {plural(n, 'год', 'года', 'лет')}" for n in years.drop_nulls().unique()}
    return years.replace_strict(texts, default=None, return_dtype=pl.Utf8)


def _ages(
    frame: pl.DataFrame,
    ages: dict[str, tuple[int, int]],
    ctx: SubmissionContext,
    category: pl.Series,
) -> tuple[pl.Series, pl.Series, pl.Series, pl.Series]:
    """(age on the exam day, born after the exam, low, high bound of the row's category)."""
    birth = _birth_date(frame)
    exam = pl.lit(ctx.exam_date)
    low = category.replace_strict(
        {k: v[0] for k, v in ages.items()}, default=None, return_dtype=pl.Int64
    )
    high = category.replace_strict(
        {k: v[1] for k, v in ages.items()}, default=None, return_dtype=pl.Int64
    )

    def month_day(day: pl.Expr) -> pl.Expr:  # dt.month() is Int8: × 100 would overflow
        return day.dt.month().cast(pl.Int32) * 100 + day.dt.day().cast(pl.Int32)

    years = pl.select(
        exam.dt.year()
        - pl.lit(birth).dt.year()
        - (month_day(exam) < month_day(pl.lit(birth))).cast(pl.Int64)
    ).to_series()
    future = pl.select(pl.lit(birth) > exam).to_series().fill_null(False)
    return years, future, low, high


def _usual_age_rule(
    frame: pl.DataFrame,
    rule: Rule,
    ctx: SubmissionContext,
    category: pl.Series,
    contract: Contract,
) -> tuple[pl.Series, pl.Series]:
    """A warning for an age possible for the category but unusual (a 90-year-old graduate of
    past years): accepted, the МОУО asked to check. Where the contract's `age_for_category`
    rule already rejects the date, this one stays silent: one message per row."""
    years, future, low, high = _ages(frame, rule.ages or {}, ctx, category)
    unusual = ((years < low) | (years > high)).fill_null(False) & ~future
    for hard in (r for r in contract.rules if r.kind == "age_for_category"):
        h_years, h_future, h_low, h_high = _ages(frame, hard.ages or {}, ctx, category)
        unusual &= ~(h_future | ((h_years < h_low) | (h_years > h_high)).fill_null(False))
    reasons = pl.select(
        pl.when(pl.lit(unusual)).then(
            pl.format(
                "возраст на день экзамена {} — необычен для этой категории (обычно {}–{}); "
                "проверьте дату рождения и категорию",
                pl.lit(_years_text(years)),
                pl.lit(low),
                pl.lit(high),
            )
        )
    ).to_series()
    return ~unusual, reasons


def _age_rule(
    frame: pl.DataFrame, rule: Rule, ctx: SubmissionContext, category: pl.Series
) -> tuple[pl.Series, pl.Series]:
    years, future, low, high = _ages(frame, rule.ages or {}, ctx, category)
    outside = ((years < low) | (years > high)).fill_null(False)
    ok = ~(future | outside)
    reasons = pl.select(
        pl.when(pl.lit(future))
        .then(pl.lit("дата в будущем"))
        .when(pl.lit(outside))
        .then(
            pl.format(
                "возраст на день экзамена {} — невозможен для этой категории (допустимо {}–{})",
                pl.lit(_years_text(years)),
                pl.lit(low),
                pl.lit(high),
            )
        )
    ).to_series()
    return ok, reasons


def _document_kind(frame: pl.DataFrame) -> pl.Series:
    """The document type's code (`passport_rf`, …), or the value as written if unknown."""
    written = frame[value_column("document_type")]
    return written.str.to_lowercase().replace_strict(_DOCUMENT_CODES, default=written)


def _document_rule(frame: pl.DataFrame) -> tuple[pl.Series, pl.Series]:
    kind = _document_kind(frame)
    series = frame[value_column("document_series")].str.replace_all(" ", "")
    number = frame[value_column("document_number")].str.replace_all(" ", "")
    passport = (
        (kind == "passport_rf")
        & series.str.contains(r"^[0-9]{4}$")
        & number.str.contains(r"^[0-9]{6}$")
    )
    ok = passport.clone()
    others = (kind != "passport_rf").arg_true().to_list()
    reasons: list[str | None] = [None] * frame.height
    values = ok.to_list()
    for index in others:  # rare: birth certificates, foreign documents
        cells = [series[index], number[index]]
        if kind[index] not in _STRICT_DOCUMENTS:  # a formula-like cell: the plain rule's word
            cells = ["0" if _formula_like(cell) else cell for cell in cells]
        try:
            parse_document(kind[index], *cells)
            values[index] = True
        except InvalidIdentifier as exc:
            reasons[index] = exc.reason
    ok = pl.Series(values, dtype=pl.Boolean)
    for index in (~ok).arg_true().to_list():
        if reasons[index] is None:
            args = (kind[index], series[index], number[index])
            reasons[index] = _why(lambda args=args: parse_document(*args))  # type: ignore[misc]
    return ok, pl.Series(reasons, dtype=pl.Utf8)


def _school_rule(frame: pl.DataFrame, ctx: SubmissionContext) -> tuple[pl.Series, pl.Series]:
    code = frame[value_column("school_code")]
    prefix = ctx.mouo_code.replace("-", "")
    shaped = code.str.contains(r"^[0-9]{7}$")
    own = code.str.slice(0, 4) == prefix
    known = code.is_in(sorted(ctx.known_schools)) if ctx.known_schools is not None else own
    ok = shaped & own & known
    reasons = pl.select(
        pl.when(~pl.lit(shaped))
        .then(pl.lit("ожидается 7 цифр"))
        .when(~pl.lit(own))
        .then(pl.format("ОО {} относится к другому МОУО", pl.lit(code)))
        .when(~pl.lit(known))
        .then(pl.format("ОО {} нет в региональной базе", pl.lit(code)))
    ).to_series()
    return ok, reasons


def _unique_rule(frame: pl.DataFrame, rule: Rule) -> tuple[pl.Series, pl.Series]:
    key = frame[value_column(rule.column)]
    first = frame.select(pl.col("row_number").min().over(value_column(rule.column))).to_series()
    repeat = (key != "") & (first != frame["row_number"])
    reasons = pl.select(pl.when(pl.lit(repeat)).then(pl.lit(first).cast(pl.Utf8))).to_series()
    return ~repeat, reasons


def prepare(rows: pl.DataFrame, contract: Contract, ctx: SubmissionContext) -> pl.DataFrame:
    """The rows with a normalised value column per field and, per computed rule, its outcome
    `ok__<id>` and reason `why__<id>`: the frame the contract's GX suite validates."""
    for column in ("parse_error", "parse_warning"):
        if column not in rows.columns:
            rows = rows.with_columns(pl.lit("").alias(column))
    frame = rows.with_columns(_normalised(rows))
    computed = []
    for rule in contract.rules:
        if rule.native:
            continue
        ok, reason = _computed(frame, rule, ctx, contract)
        computed.append(ok.fill_null(True).alias(check_column(rule.id)))
        if reason is not None:
            computed.append(reason.alias(reason_column(rule.id)))
    frame = frame.with_columns(computed)
    for rule in contract.rules:  # native in_set: a required value must not be empty
        if rule.kind == "in_set" and not rule.optional:
            frame = frame.with_columns(pl.col(value_column(rule.column)).replace("", "—"))
    return frame.with_columns(
        pl.col(value_column(r.column)).replace("", None) for r in contract.rules if r.native
    )


def failures_in_frame(frame: pl.DataFrame, contract: Contract) -> pl.DataFrame:
    """(row index, rule id) of every failure, computed with polars alone (no GX)."""
    parts = []
    for rule in contract.rules:
        if rule.kind == "not_empty":
            failed = frame[value_column(rule.column)].is_null()
        elif rule.kind == "in_set":
            values = frame[value_column(rule.column)]
            failed = values.is_not_null() & ~values.is_in(rule.values or [])
        else:
            failed = ~frame[check_column(rule.id)]
        indices = failed.arg_true()
        parts.append(
            pl.DataFrame(
                {"index": indices.cast(pl.Int64), "rule_id": [rule.id] * len(indices)},
                schema={"index": pl.Int64, "rule_id": pl.Utf8},
            )
        )
    return pl.concat(parts).sort("index", "rule_id")


def split_rows(
    frame: pl.DataFrame, failures: pl.DataFrame, contract: Contract
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(rows, problems). rows: the prepared frame with `status` accepted | rejected.
    problems: one row per failure — row_number, column (Russian header), rule, severity,
    message (Russian, reason filled in)."""
    messages = []
    for index, rule_id in failures.iter_rows():
        rule = contract.rule(rule_id)
        reason_name = reason_column(rule_id)
        reason = frame[reason_name][index] if reason_name in frame.columns else None
        messages.append(
            {
                "index": index,
                "row_number": frame["row_number"][index],
                "column": SUBMISSION_COLUMNS.get(rule.column, ""),
                "rule": rule_id,
                "severity": rule.severity,
                "message": rule.message.replace("{reason}", reason or ""),
            }
        )
    problems = pl.DataFrame(
        messages,
        schema={
            "index": pl.Int64,
            "row_number": pl.Int64,
            "column": pl.Utf8,
            "rule": pl.Utf8,
            "severity": pl.Utf8,
            "message": pl.Utf8,
        },
    )
    critical = problems.filter(pl.col("severity") == "critical")["index"].unique()
    rows = (
        frame.with_row_index("index")
        .with_columns(
            pl.when(pl.col("index").cast(pl.Int64).is_in(critical.to_list()))
            .then(pl.lit("rejected"))
            .otherwise(pl.lit("accepted"))
            .alias("status")
        )
        .drop("index")
    )
    return rows, problems.drop("index")


def foreign_inbox_owner(rows: pl.DataFrame, mouo_code: str) -> str | None:
    """The МОУО a file seems to come from when most of its school codes belong to another one
    (a file dropped into the wrong inbox); None when the file is this МОУО's own."""
    codes = (
        rows["school_code"].fill_null("").str.strip_chars()
        if "school_code" in rows.columns
        else pl.Series([], dtype=pl.Utf8)
    )
    prefixes = codes.filter(codes.str.contains(r"^[0-9]{7}$")).str.slice(0, 4)
    if prefixes.is_empty():
        return None
    top = prefixes.value_counts(sort=True).row(0)
    owner, count = str(top[0]), int(top[1])
    if owner != mouo_code.replace("-", "") and count * 2 > prefixes.len():
        return f"{owner[:2]}-{owner[2:]}"
    return None
