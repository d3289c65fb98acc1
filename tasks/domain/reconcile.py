"""Reconciliation (выверка) of the regional database for one session: consolidate the accepted
rows of every МОУО and find what a coordinator must look at before kits are printed.

Pure polars over plain frames. Discrepancy messages are Russian and name МОУО, files' row
numbers and school codes, never a person's name or СНИЛС: they go to МОУО and into artifacts.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import polars as pl

from tasks.domain.participants import CATEGORY_NAMES_RU, Category

__all__ = [
    "DISCREPANCY_SCHEMA",
    "ReconcileInput",
    "ReconcileResult",
    "consolidate",
    "find_discrepancies",
    "reconcile",
    "registry_conflicts",
]

MAX_ATTEMPTS = 3  # the first attempt and at most two retakes after «незачет»
COUNT_TOLERANCE = 0.3  # a school's count this far from the planned one is worth a look
COUNT_MINIMUM_GAP = 5

DISCREPANCY_SCHEMA = pl.Schema(
    {
        "key": pl.Utf8,
        "kind": pl.Utf8,
        "severity": pl.Utf8,
        "mouo_code": pl.Utf8,
        "school_code": pl.Utf8,
        "message": pl.Utf8,
        "rows": pl.Utf8,  # "МОУО 42-01 стр. 12; МОУО 42-03 стр. 40": the rows involved
    }
)
_GRADUATE = CATEGORY_NAMES_RU[Category.GRADUATE]


@dataclass(frozen=True, slots=True)
class ReconcileInput:
    """rows: accepted rows of the current submissions (mouo_code, row_number and the fields
    by name, normalised). history: earlier registrations of known people (snils, school_year,
    session_code, passed: bool | null). schools: school_code, mouo_code, planned, capacity.
    mouos: every МОУО code expected to submit."""

    rows: pl.DataFrame
    history: pl.DataFrame
    schools: pl.DataFrame
    mouos: tuple[str, ...]
    school_year: str
    session_code: str


@dataclass(frozen=True, slots=True)
class ReconcileResult:
    participants: pl.DataFrame  # one row per person to register (first occurrence wins)
    discrepancies: pl.DataFrame  # DISCREPANCY_SCHEMA


def _digest(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:20]


def _where(frame: pl.DataFrame) -> pl.Expr:
    """Where a row came from, as the МОУО sees it: 'МОУО 42-01 стр. 12' (a data row number)."""
    return pl.format("МОУО {} стр. {}", pl.col("mouo_code"), pl.col("row_number"))


def _groups(
    rows: pl.DataFrame,
    by: list[str],
    kind: str,
    severity: str,
    message: str,
    extra: pl.Expr | None = None,
    required: list[str] | None = None,
) -> pl.DataFrame:
    """One discrepancy per group of more than one row sharing `by` (and `extra` when given).
    Rows with an empty `required` field (all of `by` unless given) are not compared: an optional
    field such as the patronymic or a foreign document's series may be empty and still match."""
    keyed = rows.filter(pl.all_horizontal(pl.col(c) != "" for c in required or by))
    if extra is not None:
        keyed = keyed.filter(extra.over(by))
    groups = (
        keyed.with_columns(_where(keyed).alias("where"))
        .group_by(by)
        .agg(
            pl.len().alias("n"),
            # by row number, not as text: «стр. 9» comes before «стр. 10»
            pl.col("where").sort_by("mouo_code", "row_number").alias("where"),
            pl.col("mouo_code").sort().first().alias("mouo_code"),
            pl.col("school_code").sort().first().alias("school_code"),
        )
        .filter(pl.col("n") > 1)
    )
    return groups.select(
        pl.concat_str(
            [
                pl.lit(kind + ":"),
                pl.concat_str(by, separator="|").map_elements(
                    lambda v: _digest(v), return_dtype=pl.Utf8
                ),
            ]
        ).alias("key"),
        pl.lit(kind).alias("kind"),
        pl.lit(severity).alias("severity"),
        "mouo_code",
        "school_code",
        pl.format(message + " (строк: {}): {}", pl.col("n"), pl.col("where").list.join("; ")).alias(
            "message"
        ),
        pl.col("where").list.join("; ").alias("rows"),
    )


def _person_duplicates(rows: pl.DataFrame) -> list[pl.DataFrame]:
    person = ["surname", "name", "patronymic", "birth_date"]
    document = ["document_type", "document_series", "document_number"]
    same_person = pl.struct(person).n_unique() == 1
    return [
        _groups(
            rows,
            ["snils"],
            "duplicate_snils",
            "critical",
            "один и тот же участник (тот же СНИЛС) зарегистрирован несколько раз",
            same_person,
        ),
        _groups(
            rows,
            ["snils"],
            "conflicting_snils",
            "critical",
            "один СНИЛС указан у разных людей (разные ФИО или дата рождения)",
            ~same_person,
        ),
        _groups(
            rows,
            document,
            "duplicate_document",
            "critical",
            "один документ, удостоверяющий личность, указан у разных СНИЛС",
            pl.col("snils").n_unique() > 1,
            required=["document_number"],
        ),
        _groups(
            rows,
            person,
            "duplicate_person",
            "warning",
            "совпадают ФИО и дата рождения при разных СНИЛС: возможно, один человек",
            pl.col("snils").n_unique() > 1,
            required=["surname", "name", "birth_date"],
        ),
    ]


def _history_checks(
    rows: pl.DataFrame, history: pl.DataFrame, school_year: str, session_code: str
) -> list[pl.DataFrame]:
    """Per row, against the person's history; `rows` in file order, so that of a person's
    repeated rows the first one is the one reported."""
    earlier = history.filter(pl.col("session_code") != session_code)
    this_year = (
        earlier.filter(pl.col("school_year") == school_year)
        .group_by("snils")
        .agg(
            (pl.col("passed") == False).sum().alias("failed"),  # noqa: E712 - polars expression
            (pl.col("passed") == True).sum().alias("passed"),  # noqa: E712
        )
    )
    # any earlier «зачет», this school year or before: a graduate's rewrite annuls either
    ever_passed = (
        earlier.filter(pl.col("passed"))
        .select("snils")
        .unique()
        .with_columns(pl.lit(True).alias("passed_before"))
    )
    joined = (
        rows.join(this_year, on="snils", how="left", maintain_order="left")
        .join(ever_passed, on="snils", how="left", maintain_order="left")
        .with_columns(
            pl.col("failed", "passed").fill_null(0),
            pl.col("passed_before").fill_null(False),
            _where(rows).alias("where"),
        )
    )

    def single(frame: pl.DataFrame, kind: str, severity: str, message: str) -> pl.DataFrame:
        return frame.select(
            pl.concat_str(
                [
                    pl.lit(kind + ":"),
                    pl.col("snils").map_elements(lambda v: _digest(v), return_dtype=pl.Utf8),
                ]
            ).alias("key"),
            pl.lit(kind).alias("kind"),
            pl.lit(severity).alias("severity"),
            "mouo_code",
            "school_code",
            pl.format(message + ": {}", pl.col("where")).alias("message"),
            pl.col("where").alias("rows"),
        )

    return [
        single(
            joined.filter(pl.col("failed") >= MAX_ATTEMPTS),
            "attempts_exceeded",
            "critical",
            "попыток в этом учебном году больше допустимого (не более двух пересдач после "
            "«незачета»)",
        ),
        single(
            joined.filter((pl.col("passed") > 0) & (pl.col("category") != _GRADUATE)),
            "already_passed",
            "critical",
            "участник уже получил «зачет» в этом учебном году",
        ),
        single(
            joined.filter(pl.col("passed_before") & (pl.col("category") == _GRADUATE)),
            "graduate_rewrite",
            "warning",
            "выпускник прошлых лет пишет сочинение повторно: ранее полученный результат "
            "будет аннулирован",
        ),
        single(
            joined.filter(
                (pl.col("failed") + 1 != pl.col("attempt").cast(pl.Int64, strict=False))
                & (pl.col("attempt") != "")
                & (pl.col("failed") < MAX_ATTEMPTS)
            ),
            "attempt_mismatch",
            "warning",
            "номер попытки в файле не совпадает с историей участника в РБД",
        ),
    ]


def _school_discrepancies(
    schools: pl.DataFrame, kind: str, severity: str, message: str, *columns: str
) -> pl.DataFrame:
    """One discrepancy per school; `message` is a pl.format template filled from `columns`."""
    return schools.select(
        pl.format(kind + ":{}", "school_code").alias("key"),
        pl.lit(kind).alias("kind"),
        pl.lit(severity).alias("severity"),
        "mouo_code",
        "school_code",
        pl.format(message, *columns).alias("message"),
        pl.lit("").alias("rows"),
    )


def _school_checks(participants: pl.DataFrame, schools: pl.DataFrame) -> list[pl.DataFrame]:
    counts = participants.group_by("school_code").len("registered")
    joined = schools.join(counts, on="school_code", how="left").with_columns(
        pl.col("registered").fill_null(0)
    )
    gap = (pl.col("registered") - pl.col("planned")).abs()
    far = joined.filter(
        pl.col("planned").is_not_null()
        & (pl.col("planned") > 0)
        & (gap > pl.max_horizontal(pl.lit(COUNT_MINIMUM_GAP), pl.col("planned") * COUNT_TOLERANCE))
    )
    over = joined.filter(pl.col("registered") > pl.col("capacity"))
    return [
        _school_discrepancies(
            far,
            "school_count",
            "warning",
            "ОО {}: зарегистрировано {}, планировалось {}",
            "school_code",
            "registered",
            "planned",
        ),
        _school_discrepancies(
            over,
            "room_capacity",
            "critical",
            "ОО {}: участников {}, мест в аудиториях {}",
            "school_code",
            "registered",
            "capacity",
        ),
    ]


def consolidate(rows: pl.DataFrame) -> pl.DataFrame:
    """One row per person: the first occurrence of each СНИЛС (МОУО, then row order), and no
    second СНИЛС for a document already taken. The rest stays in the discrepancies. An empty
    СНИЛС or document number is no key: such rows are kept for the registry contract to refuse,
    not merged into one person."""
    ordered = rows.sort("mouo_code", "row_number")
    document = pl.struct("document_type", "document_series", "document_number")
    first = ordered.filter((pl.col("snils") == "") | pl.col("snils").is_first_distinct())
    return first.filter((pl.col("document_number") == "") | document.is_first_distinct())


def find_discrepancies(data: ReconcileInput, participants: pl.DataFrame) -> pl.DataFrame:
    """Every discrepancy of DISCREPANCY_SCHEMA, one per key; the same input in any row order
    gives the same frame (the key makes storing it idempotent)."""
    rows = data.rows.sort("mouo_code", "row_number")
    submitted = set(rows["mouo_code"].unique().to_list())
    missing = [code for code in data.mouos if code not in submitted]
    silent = pl.DataFrame(
        {
            "key": [f"no_submission:{code}" for code in missing],
            "kind": "no_submission",
            "severity": "critical",
            "mouo_code": missing,
            "school_code": "",
            "message": [f"МОУО {code} не представило сведения об участниках" for code in missing],
            "rows": "",
        },
        schema=DISCREPANCY_SCHEMA,
    )
    parts = [
        silent,
        *_person_duplicates(rows),
        *_history_checks(rows, data.history, data.school_year, data.session_code),
        *_school_checks(participants, data.schools.filter(~pl.col("mouo_code").is_in(missing))),
    ]
    return (
        pl.concat([p.cast(DISCREPANCY_SCHEMA) for p in parts])
        .unique("key", keep="first", maintain_order=True)
        .sort("severity", "kind", "mouo_code", "key")
    )


def reconcile(data: ReconcileInput) -> ReconcileResult:
    participants = consolidate(data.rows)
    return ReconcileResult(participants, find_discrepancies(data, participants))


def registry_conflicts(rows: pl.DataFrame) -> pl.DataFrame:
    """Rows (mouo_code, row_number, school_code, snils) whose document the registry holds for
    a person with results under another СНИЛС: not loaded, one critical discrepancy each."""
    return rows.select(
        pl.concat_str(
            [
                pl.lit("document_taken:"),
                pl.col("snils").map_elements(lambda v: _digest(v), return_dtype=pl.Utf8),
            ]
        ).alias("key"),
        pl.lit("document_taken").alias("kind"),
        pl.lit("critical").alias("severity"),
        "mouo_code",
        "school_code",
        pl.format(
            "документ уже внесён в РБД за участником с другим СНИЛС и с результатами; "
            "строка не загружена: {}",
            _where(rows),
        ).alias("message"),
        _where(rows).alias("rows"),
    ).cast(DISCREPANCY_SCHEMA)
