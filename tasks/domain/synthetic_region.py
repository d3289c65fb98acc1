"""A realistic, deterministic synthetic region: МОУО, schools, rooms, participants, and the
submission rows each МОУО would send, optionally with injected errors and their ground truth.

Everything is drawn from one seeded numpy generator with vectorised operations, so a million
participants take seconds and the same (participants, seed, options) always give the same data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

import numpy as np
import polars as pl
from faker.providers.address.ru_RU import Provider as _RuAddress
from faker.providers.person.ru_RU import Provider as _RuPerson

from tasks.domain.identifiers import DOCUMENT_TYPE_NAMES_RU, DocumentType
from tasks.domain.participants import CATEGORY_NAMES_RU, FORM_NAMES_RU, Category, Form

__all__ = [
    "GeneratorOptions",
    "InjectedError",
    "RegionInfo",
    "RegistryError",
    "SyntheticRegion",
    "generate_region",
    "submission_frame",
]

_CYRILLIC_WORD = re.compile(r"^[А-ЯЁ][а-яё]+$")


def _names(values: tuple[str, ...]) -> np.ndarray:
    return np.array(sorted({v for v in values if _CYRILLIC_WORD.match(v)}))


# Name lists come with Faker's ru_RU locale; only plain Cyrillic words are kept.
SURNAMES = {"М": _names(_RuPerson.last_names_male), "Ж": _names(_RuPerson.last_names_female)}
FIRST_NAMES = {"М": _names(_RuPerson.first_names_male), "Ж": _names(_RuPerson.first_names_female)}
PATRONYMICS = {"М": _names(_RuPerson.middle_names_male), "Ж": _names(_RuPerson.middle_names_female)}
CITIES = _names(_RuAddress.city_names)

# Shares of categories among participants (a region's typical December session).
CATEGORY_SHARES: dict[Category, float] = {
    Category.STUDENT: 0.895,
    Category.STUDENT_CLOSED: 0.004,
    Category.STUDENT_HOME: 0.006,
    Category.GRADUATE: 0.045,
    Category.SPO: 0.040,
    Category.FOREIGN_SCHOOL: 0.004,
    Category.CERTIFICATE: 0.006,
}
# Age on the exam day by category: (youngest, oldest).
AGES: dict[Category, tuple[int, int]] = {
    Category.STUDENT: (16, 19),
    Category.STUDENT_CLOSED: (16, 20),
    Category.STUDENT_HOME: (16, 20),
    Category.GRADUATE: (18, 45),
    Category.SPO: (16, 21),
    Category.FOREIGN_SCHOOL: (16, 19),
    Category.CERTIFICATE: (17, 25),
}
OVZ_SHARE = 0.03
EXPOSITION_SHARE_AMONG_ELIGIBLE = 0.6
ORAL_SHARE_AMONG_OVZ = 0.1
# Attempts within the school year: retakes happen only on the additional dates, so in the
# first session everybody is on attempt 1; from the second on, a share retakes after «незачет».
RETAKE_SHARES = (0.80, 0.16, 0.04)  # attempt 1, 2, 3 among a later session's participants
PARTICIPANTS_PER_SCHOOL = 28
PARTICIPANTS_PER_MOUO = 700
ROOM_CAPACITY = 15


class InjectedError(StrEnum):
    """Errors a municipality really makes; each has a rule in the submission contract."""

    INVALID_SNILS = "invalid_snils"
    LATIN_LOOKALIKE = "latin_lookalike"
    FUTURE_BIRTH_DATE = "future_birth_date"
    ABSURD_BIRTH_DATE = "absurd_birth_date"
    MISSING_NAME = "missing_name"
    BAD_PASSPORT = "bad_passport"
    EXPOSITION_NOT_ELIGIBLE = "exposition_not_eligible"
    FOREIGN_SCHOOL_CODE = "foreign_school_code"
    UNKNOWN_CATEGORY = "unknown_category"
    DUPLICATE_ROW = "duplicate_row"


class RegistryError(StrEnum):
    """Errors no single file shows: each row passes its МОУО's checks, the region's
    reconciliation finds them (value = the discrepancy kind it must produce)."""

    CROSS_MOUO_DUPLICATE = "duplicate_snils"  # one person sent by two МОУО (a pupil moved)
    SNILS_CONFLICT = "conflicting_snils"  # a СНИЛС typed from another person's record
    DOCUMENT_CONFLICT = "duplicate_document"  # a passport typed from another person's record


ERROR_COLUMNS: dict[InjectedError, str] = {
    InjectedError.INVALID_SNILS: "snils",
    InjectedError.LATIN_LOOKALIKE: "surname",
    InjectedError.FUTURE_BIRTH_DATE: "birth_date",
    InjectedError.ABSURD_BIRTH_DATE: "birth_date",
    InjectedError.MISSING_NAME: "name",
    InjectedError.BAD_PASSPORT: "document_series",
    InjectedError.EXPOSITION_NOT_ELIGIBLE: "form",
    InjectedError.FOREIGN_SCHOOL_CODE: "school_code",
    InjectedError.UNKNOWN_CATEGORY: "category",
    InjectedError.DUPLICATE_ROW: "",
}
_LOOKALIKES = {"а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "у": "y", "х": "x"}


@dataclass(frozen=True, slots=True)
class RegionInfo:
    code: str
    name: str
    timezone: str
    okato: str  # first two digits of passport series issued there


@dataclass(frozen=True, slots=True)
class GeneratorOptions:
    participants: int
    seed: int
    region: RegionInfo
    exam_date: date
    error_rate: float = 0.0
    silent_mouos: int = 0  # how many МОУО (the last ones) send nothing
    session_ordinal: int = 1  # 1 = the main date; 2, 3 = additional dates with retakers
    registry_errors: int = 0  # cases found only by reconciliation, kinds in turn


@dataclass(frozen=True, slots=True)
class SyntheticRegion:
    """Frames of the generated region. `participants` is the clean ground truth; `submissions`
    holds what each МОУО sends (with injected errors); `errors` is the injection ground truth."""

    options: GeneratorOptions
    mouos: pl.DataFrame
    schools: pl.DataFrame
    rooms: pl.DataFrame
    participants: pl.DataFrame
    submissions: pl.DataFrame
    errors: pl.DataFrame
    registry_errors: pl.DataFrame  # kind, mouo_code, row_number, source_mouo, participant_key


def _unique_ints(rng: np.random.Generator, size: int, low: int, high: int) -> np.ndarray:
    """`size` distinct integers from [low, high), in random order."""
    if high - low < size:
        raise ValueError("range too small for distinct values")
    drawn = np.unique(rng.integers(low, high, size=int(size * 1.1) + 16))
    while drawn.size < size:
        drawn = np.unique(np.concatenate([drawn, rng.integers(low, high, size=size)]))
    return rng.permutation(drawn)[:size]


def snils_check_numbers(bodies: np.ndarray) -> np.ndarray:
    """Vectorised СНИЛС check numbers of 9-digit bodies (see identifiers.snils_check_number)."""
    total = np.zeros(bodies.shape, dtype=np.int64)
    rest = bodies.astype(np.int64)
    for weight in range(1, 10):  # last digit has weight 1
        total += (rest % 10) * weight
        rest //= 10
    check = np.where(total < 100, total, total % 101)
    return np.where((check == 100) | (check == 101), 0, check)


def _structure(options: GeneratorOptions, rng: np.random.Generator) -> tuple[pl.DataFrame, ...]:
    n = options.participants
    mouo_count = int(np.clip(round(n / PARTICIPANTS_PER_MOUO), 3, 99))
    school_count = max(mouo_count, round(n / PARTICIPANTS_PER_SCHOOL))
    region = options.region.code
    cities = rng.choice(CITIES, size=mouo_count, replace=False)
    mouo_codes = [f"{region}-{i + 1:02d}" for i in range(mouo_count)]
    mouos = pl.DataFrame(
        {
            "mouo_code": mouo_codes,
            "name": [f"Управление образования администрации г. {city}" for city in cities],
            "email": [f"uo{i + 1:02d}@obr{region}.example" for i in range(mouo_count)],
        }
    )
    # Schools per МОУО: a lognormal spread, at least one and at most 999 (a school code has
    # three digits for the school within its МОУО).
    weights = rng.lognormal(0.0, 0.6, size=mouo_count)
    per_mouo = np.clip(np.floor(weights / weights.sum() * school_count), 1, 999).astype(int)
    school_mouo = np.repeat(np.arange(mouo_count), per_mouo)
    serial = np.concatenate([np.arange(1, k + 1) for k in per_mouo])
    kinds = rng.choice(["school", "spo", "closed"], size=school_mouo.size, p=[0.9, 0.08, 0.02])
    numbers = rng.integers(1, 120, size=school_mouo.size)
    names = [
        {
            "school": f"МБОУ «Средняя общеобразовательная школа № {num}»",
            "spo": f"ГПОУ «Техникум № {num}»",
            "closed": f"ГОУ «Специальное учебно-воспитательное учреждение № {num}»",
        }[kind]
        for kind, num in zip(kinds, numbers, strict=True)
    ]
    schools = pl.DataFrame(
        {
            "school_code": [
                f"{region}{m + 1:02d}{s:03d}" for m, s in zip(school_mouo, serial, strict=True)
            ],
            "mouo_code": [mouo_codes[m] for m in school_mouo],
            "name": names,
            "kind": kinds,
        }
    )
    return mouos, schools


def _pick(values: np.ndarray, index: np.ndarray) -> pl.Series:
    """values[index] as a polars string column, without building a numpy unicode array."""
    return pl.Series(values.tolist(), dtype=pl.Utf8).gather(index)


def _by_sex(lists: dict[str, np.ndarray], male: np.ndarray, rng: np.random.Generator) -> pl.Series:
    men = _pick(lists["М"], rng.integers(0, lists["М"].size, male.size))
    women = _pick(lists["Ж"], rng.integers(0, lists["Ж"].size, male.size))
    return pl.select(pl.when(pl.Series(male)).then(men).otherwise(women)).to_series()


def _people(
    options: GeneratorOptions, schools: pl.DataFrame, rng: np.random.Generator
) -> pl.DataFrame:
    """Participants drawn with integer codes and polars columns: 10^6 rows in seconds."""
    n = options.participants
    categories = list(CATEGORY_SHARES)
    code = rng.choice(len(categories), size=n, p=np.array(list(CATEGORY_SHARES.values())))
    category = np.array([c.value for c in categories], dtype=object)[code]
    is_cat = {c: code == categories.index(c) for c in categories}
    male = rng.random(n) < 0.5
    # Age and birth date by category.
    low = np.array([AGES[c][0] for c in categories])[code]
    high = np.array([AGES[c][1] for c in categories])[code]
    age_days = rng.integers(low * 365 + 30, high * 365 + 300)
    birth = np.datetime64(options.exam_date, "D") - age_days.astype("timedelta64[D]")
    # Schools: students by their school's kind; others (graduates, ...) at a general school.
    kind = schools["kind"].to_numpy()
    codes = schools["school_code"].to_numpy()
    school = np.empty(n, dtype=object)
    wanted = {"spo": is_cat[Category.SPO], "closed": is_cat[Category.STUDENT_CLOSED]}
    wanted["school"] = ~(wanted["spo"] | wanted["closed"])
    for k, mask in wanted.items():
        pool = codes[kind == k] if (kind == k).any() else codes[kind == "school"]
        school[mask] = pool[rng.integers(0, pool.size, int(mask.sum()))]
    ovz = rng.random(n) < OVZ_SHARE
    student = (
        is_cat[Category.STUDENT] | is_cat[Category.STUDENT_CLOSED] | is_cat[Category.STUDENT_HOME]
    )
    eligible = student & (ovz | is_cat[Category.STUDENT_CLOSED] | is_cat[Category.STUDENT_HOME])
    exposition = eligible & (rng.random(n) < EXPOSITION_SHARE_AMONG_ELIGIBLE)
    oral = ovz & (rng.random(n) < ORAL_SHARE_AMONG_OVZ)
    ovz_kind = rng.integers(0, 2, n)
    attempt = np.minimum(
        rng.choice(np.array([1, 2, 3]), size=n, p=np.array(RETAKE_SHARES)), options.session_ordinal
    )
    letter = rng.integers(0, 4, n)
    # Identifiers: unique СНИЛС bodies with their check numbers; unique passports
    # (series = OKATO code + two digits, number = 6 digits).
    bodies = _unique_ints(rng, n, 1_002_000, 999_999_999)
    checks = snils_check_numbers(bodies)
    passport = _unique_ints(rng, n, 0, 900_000 * 100)
    frame = pl.DataFrame(
        {
            "index": np.arange(1, n + 1),
            "body": bodies,
            "check": checks,
            "passport": passport,
            "male": male,
            "birth_date": birth,
            "category": pl.Series(category, dtype=pl.Utf8),
            "school_code": pl.Series(school, dtype=pl.Utf8),
            "exposition": exposition,
            "oral": oral,
            "ovz": ovz,
            "ovz_kind": ovz_kind,
            "attempt": attempt,
            "student": student,
            "letter": letter,
        }
    )
    return frame.select(
        pl.format("P{}", pl.col("index").cast(pl.Utf8).str.zfill(7)).alias("participant_key"),
        pl.concat_str(
            pl.col("body").cast(pl.Utf8).str.zfill(9), pl.col("check").cast(pl.Utf8).str.zfill(2)
        ).alias("snils"),
        _by_sex(SURNAMES, male, rng).alias("surname"),
        _by_sex(FIRST_NAMES, male, rng).alias("name"),
        _by_sex(PATRONYMICS, male, rng).alias("patronymic"),
        pl.when(pl.col("male")).then(pl.lit("М")).otherwise(pl.lit("Ж")).alias("sex"),
        pl.col("birth_date").cast(pl.Date),
        pl.lit(DocumentType.PASSPORT_RF.value).alias("document_type"),
        pl.concat_str(
            pl.lit(options.region.okato), (pl.col("passport") // 900_000).cast(pl.Utf8).str.zfill(2)
        ).alias("document_series"),
        (pl.col("passport") % 900_000 + 100_000).cast(pl.Utf8).alias("document_number"),
        "category",
        "school_code",
        pl.when(pl.col("student"))
        .then(
            pl.concat_str(
                pl.lit("11"),
                pl.col("letter").replace_strict(
                    {0: "А", 1: "Б", 2: "В", 3: "Г"}, return_dtype=pl.Utf8
                ),
            )
        )
        .otherwise(pl.lit(""))
        .alias("class_name"),
        pl.when(pl.col("exposition"))
        .then(pl.lit(Form.EXPOSITION.value))
        .otherwise(pl.lit(Form.ESSAY.value))
        .alias("form"),
        "oral",
        "ovz",
        pl.when(~pl.col("ovz"))
        .then(pl.lit(""))
        .when(pl.col("ovz_kind") == 0)
        .then(pl.lit("заключение ПМПК"))
        .otherwise(pl.lit("справка об инвалидности"))
        .alias("ovz_document"),
        "attempt",
    )


def _rooms(participants: pl.DataFrame, schools: pl.DataFrame) -> pl.DataFrame:
    counts = participants.group_by("school_code").len()
    joined = schools.join(counts, on="school_code", how="left").with_columns(
        pl.col("len").fill_null(0)
    )
    rooms = []
    for code, count in joined.select("school_code", "len").iter_rows():
        for number in range(1, max(1, -(-count // ROOM_CAPACITY)) + 1):
            rooms.append((code, f"{number:02d}", ROOM_CAPACITY))
    return pl.DataFrame(rooms, schema=["school_code", "room", "capacity"], orient="row")


def submission_frame(participants: pl.DataFrame, schools: pl.DataFrame) -> pl.DataFrame:
    """The clean submission rows, in Russian values, with the МОУО each row belongs to."""
    return (
        participants.join(schools.select("school_code", "mouo_code"), on="school_code")
        .with_columns(
            pl.col("category").replace_strict({c.value: n for c, n in CATEGORY_NAMES_RU.items()}),
            pl.col("form").replace_strict({f.value: n for f, n in FORM_NAMES_RU.items()}),
            pl.col("document_type").replace_strict(
                {d.value: n for d, n in DOCUMENT_TYPE_NAMES_RU.items()}
            ),
            pl.when(pl.col("oral")).then(pl.lit("да")).otherwise(pl.lit("нет")).alias("oral"),
            pl.when(pl.col("ovz")).then(pl.lit("да")).otherwise(pl.lit("нет")).alias("ovz"),
            pl.col("birth_date").dt.strftime("%d.%m.%Y"),
            pl.format(
                "{}-{}-{} {}",
                pl.col("snils").str.slice(0, 3),
                pl.col("snils").str.slice(3, 3),
                pl.col("snils").str.slice(6, 3),
                pl.col("snils").str.slice(9, 2),
            ).alias("snils"),
            pl.col("attempt").cast(pl.Utf8),
        )
        .sort("mouo_code", "school_code", "participant_key")
    )


def _corrupt(
    row: dict[str, Any],
    kind: InjectedError,
    options: GeneratorOptions,
    school_codes: np.ndarray,
    school_mouos: np.ndarray,
    rng: np.random.Generator,
) -> None:
    """Break one submission row in place the way `kind` says."""
    if kind is InjectedError.INVALID_SNILS:
        digits = row["snils"]
        row["snils"] = digits[:-1] + str((int(digits[-1]) + 1 + int(rng.integers(0, 8))) % 10)
    elif kind is InjectedError.LATIN_LOOKALIKE:
        word = row["surname"]
        spots = [i for i, c in enumerate(word) if c in _LOOKALIKES]
        if not spots:
            word, spots = ("Сорокин" if row["sex"] == "М" else "Сорокина"), [1]
        spot = spots[int(rng.integers(0, len(spots)))]
        row["surname"] = word[:spot] + _LOOKALIKES[word[spot]] + word[spot + 1 :]
    elif kind is InjectedError.FUTURE_BIRTH_DATE:
        row["birth_date"] = f"01.09.{options.exam_date.year + 1}"
    elif kind is InjectedError.ABSURD_BIRTH_DATE:
        row["birth_date"] = f"01{row['birth_date'][2:6]}1901"  # a real date, absurdly early
    elif kind is InjectedError.MISSING_NAME:
        row["name"] = ""
    elif kind is InjectedError.BAD_PASSPORT:
        row["document_series"] += "7"
    elif kind is InjectedError.EXPOSITION_NOT_ELIGIBLE:
        row.update(
            ovz="нет",
            ovz_document="",
            oral="нет",
            form=FORM_NAMES_RU[Form.EXPOSITION],
            category=CATEGORY_NAMES_RU[Category.STUDENT],
        )
    elif kind is InjectedError.FOREIGN_SCHOOL_CODE:
        others = school_codes[school_mouos != row["mouo_code"]]
        row["school_code"] = str(others[int(rng.integers(0, others.size))])
    elif kind is InjectedError.UNKNOWN_CATEGORY:
        row["category"] = "Экстерн"


def _inject(
    rows: pl.DataFrame, options: GeneratorOptions, schools: pl.DataFrame, rng: np.random.Generator
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Corrupt a share of rows, one error each; returns the rows (in their original order, a
    duplicate right after its original as a copy-paste slip puts it) and the ground truth."""
    hit = np.flatnonzero(rng.random(rows.height) < options.error_rate)
    kinds = [InjectedError(k) for k in rng.choice(np.array(list(InjectedError)), size=hit.size)]
    indexed = rows.with_row_index("_position")
    school_codes = schools["school_code"].to_numpy()
    school_mouos = schools["mouo_code"].to_numpy()
    broken = indexed[hit.tolist()].to_dicts()
    for row, kind in zip(broken, kinds, strict=True):
        _corrupt(row, kind, options, school_codes, school_mouos, rng)
    broken_frame = pl.DataFrame(broken, schema=indexed.schema)
    copies = broken_frame.filter(
        pl.Series([kind is InjectedError.DUPLICATE_ROW for kind in kinds], dtype=pl.Boolean)
    )
    corrupted = (
        pl.concat([indexed.filter(~pl.col("_position").is_in(hit.tolist())), broken_frame, copies])
        .sort("_position", maintain_order=True)
        .drop("_position")
    )
    truth = pl.DataFrame(
        {
            "participant_key": broken_frame["participant_key"],
            "mouo_code": broken_frame["mouo_code"],
            "error": [kind.value for kind in kinds],
            "column": [ERROR_COLUMNS[kind] for kind in kinds],
        },
        schema={
            "participant_key": pl.Utf8,
            "mouo_code": pl.Utf8,
            "error": pl.Utf8,
            "column": pl.Utf8,
        },
    )
    return corrupted, truth


_REGISTRY_TRUTH_SCHEMA = {
    "kind": pl.Utf8,
    "mouo_code": pl.Utf8,
    "source_mouo": pl.Utf8,
    "participant_key": pl.Utf8,
    "_case": pl.Int64,
}


def _inject_registry_errors(
    rows: pl.DataFrame,
    errors: pl.DataFrame,
    rooms: pl.DataFrame,
    options: GeneratorOptions,
    rng: np.random.Generator,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Cases that span two МОУО: a row of МОУО A copied into B's file (at one of B's schools
    with a free seat), or a row of B given A's СНИЛС or A's document. Only clean rows of
    submitting МОУО are used, each at most once; rows gain a `_case` marker (0 = untouched)."""
    rows = rows.with_columns(pl.lit(0, pl.Int64).alias("_case"))
    mouo_codes = sorted(set(rows["mouo_code"].to_list()))
    if not options.registry_errors or len(mouo_codes) < 2:
        return rows, pl.DataFrame(schema=_REGISTRY_TRUTH_SCHEMA)
    touched = set(errors["participant_key"].to_list())
    clean = rows.filter(~pl.col("participant_key").is_in(sorted(touched)))
    by_mouo = {code: clean.filter(pl.col("mouo_code") == code) for code in mouo_codes}
    seats = rooms.group_by("school_code").agg(pl.col("capacity").sum())
    used = rows.group_by("school_code").len("used").join(seats, on="school_code")
    free = dict(used.select("school_code", pl.col("capacity") - pl.col("used")).iter_rows())
    kinds = list(RegistryError)
    added, changed, truth = [], {}, []
    for case in range(1, options.registry_errors + 1):
        kind = kinds[(case - 1) % len(kinds)]
        source, target = (str(c) for c in rng.choice(mouo_codes, size=2, replace=False))
        pool = [
            r for r in by_mouo[source].iter_rows(named=True) if r["participant_key"] not in touched
        ]
        others = [
            r for r in by_mouo[target].iter_rows(named=True) if r["participant_key"] not in touched
        ]
        if not pool or not others:
            break
        original = pool[int(rng.integers(0, len(pool)))]
        touched.add(original["participant_key"])
        if kind is RegistryError.CROSS_MOUO_DUPLICATE:
            schools = [r["school_code"] for r in others if free.get(r["school_code"], 0) > 0]
            if not schools:
                continue
            school = schools[int(rng.integers(0, len(schools)))]
            free[school] -= 1
            added.append({**original, "mouo_code": target, "school_code": school, "_case": case})
            key = original["participant_key"]
        else:
            victim = others[int(rng.integers(0, len(others)))]
            touched.add(victim["participant_key"])
            columns = (
                ["snils"]
                if kind is RegistryError.SNILS_CONFLICT
                else ["document_type", "document_series", "document_number"]
            )
            changed[victim["participant_key"]] = {c: original[c] for c in columns} | {"_case": case}
            key = victim["participant_key"]
        truth.append(
            {
                "kind": kind.value,
                "mouo_code": target,
                "source_mouo": source,
                "participant_key": key,
                "_case": case,
            }
        )
    if changed:
        patch = pl.DataFrame(
            [{"participant_key": k, **v} for k, v in changed.items()],
            schema={
                "participant_key": pl.Utf8,
                "snils": pl.Utf8,
                "document_type": pl.Utf8,
                "document_series": pl.Utf8,
                "document_number": pl.Utf8,
                "_case": pl.Int64,
            },
        )
        rows = rows.update(patch, on="participant_key", how="left")
    if added:
        rows = pl.concat([rows, pl.DataFrame(added, schema=rows.schema)]).sort(
            "mouo_code", maintain_order=True
        )
    return rows, pl.DataFrame(truth, schema=_REGISTRY_TRUTH_SCHEMA)


def generate_region(options: GeneratorOptions) -> SyntheticRegion:
    if options.participants < 1:
        raise ValueError("participants must be at least 1")
    if not 1 <= options.session_ordinal <= 9:
        raise ValueError("session_ordinal must be between 1 and 9")
    if not 0.0 <= options.error_rate <= 1.0:
        raise ValueError("error_rate must be between 0 and 1")
    rng = np.random.default_rng(options.seed)
    mouos, schools = _structure(options, rng)
    participants = _people(options, schools, rng)
    participants = participants.join(
        schools.select("school_code", "mouo_code"), on="school_code"
    ).sort("participant_key")
    rooms = _rooms(participants, schools)
    rows = submission_frame(participants.drop("mouo_code"), schools)
    rows, errors = _inject(rows, options, schools, rng)
    silent = (
        set(mouos["mouo_code"].to_list()[len(mouos) - options.silent_mouos :])
        if options.silent_mouos
        else set()
    )
    rows = rows.filter(~pl.col("mouo_code").is_in(sorted(silent)))
    errors = errors.filter(~pl.col("mouo_code").is_in(sorted(silent)))
    rows, registry_errors = _inject_registry_errors(rows, errors, rooms, options, rng)
    # Row numbers as the МОУО file will have them (1 = first data row under the header).
    rows = rows.with_columns((pl.int_range(pl.len()).over("mouo_code") + 1).alias("row_number"))
    spans = rows.group_by("participant_key").agg(
        pl.col("row_number").min().alias("first_row"), pl.col("row_number").max().alias("last_row")
    )
    errors = (
        errors.join(spans, on="participant_key")
        .with_columns(
            pl.when(pl.col("error") == InjectedError.DUPLICATE_ROW.value)
            .then(pl.col("last_row"))
            .otherwise(pl.col("first_row"))
            .alias("row_number")
        )
        .drop("first_row", "last_row")
        .sort("mouo_code", "row_number")
    )
    planned = participants.group_by("school_code").len("planned_participants")
    schools = schools.join(planned, on="school_code", how="left").with_columns(
        pl.col("planned_participants").fill_null(0)
    )
    registry_errors = (
        registry_errors.join(
            rows.select("participant_key", "mouo_code", "row_number", "_case"),
            on=["participant_key", "mouo_code", "_case"],
        )
        .drop("_case")
        .sort("mouo_code", "row_number")
    )
    rows = rows.drop("_case")
    return SyntheticRegion(
        options, mouos, schools, rooms, participants, rows, errors, registry_errors
    )
