"""The print stage's decisions (tasks/domain/print_kits.py): who sits where, which codes a run
still needs, fresh valid codes that never repeat, every school's pages and room forms in print
order, and the kits contract's computed checks. Frames are built by hand, as the adapters
return them."""

from __future__ import annotations

import random
from typing import Any

import polars as pl
import pytest

from tasks.domain.blanks import BlankType
from tasks.domain.identifiers import is_valid_work_code, make_work_code
from tasks.domain.print_kits import (
    ADDITIONAL_SERIALS,
    KIT_SERIALS,
    NO_ROOM,
    CodeRequest,
    PrintOptions,
    allocate_codes,
    kits_checks,
    school_pages,
    school_room_forms,
    seat_participants,
    wanted_codes,
)

REGION, YEAR, SESSION = "42", 2017, 1
PREFIX = "42171"
HEADER = "Итоговое сочинение (изложение) · 06.12.2017 · Кемеровская область"

R, W, D = BlankType.REGISTRATION, BlankType.ANSWER, BlankType.ADDITIONAL
KIT = [(R, 1), (W, 1), (W, 2)]
EXTRA = [(D, 1), (D, 2)]

# --- PrintOptions ----------------------------------------------------------------------------


def test_the_default_options_print_two_reserve_kits_and_a_tenth_of_seats_at_least_two() -> None:
    options = PrintOptions()
    assert options.reserve_per_school == 2
    assert options.additional_share == 0.1
    assert options.additional_min == 2


@pytest.mark.parametrize(
    "changes",
    [
        {"reserve_per_school": -1},
        {"additional_min": -1},
        {"additional_share": -0.01},
        {"additional_share": 1.01},
        {"additional_share": float("nan")},
    ],
)
def test_options_refuse_negative_counts_and_a_share_outside_0_to_1(
    changes: dict[str, Any],
) -> None:
    with pytest.raises(ValueError, match=r"negative|between 0 and 1"):
        PrintOptions(**changes)


def test_options_accept_zero_counts_and_the_edges_of_the_share() -> None:
    nothing = PrintOptions(reserve_per_school=0, additional_min=0, additional_share=0)
    assert nothing.additional_for(30) == 0
    assert PrintOptions(additional_share=1, additional_min=0).additional_for(17) == 17


@pytest.mark.parametrize(
    ("seats", "share", "minimum", "expected"),
    [
        (0, 0.1, 2, 2),
        (5, 0.1, 2, 2),
        (20, 0.1, 2, 2),
        (21, 0.1, 2, 3),  # 2.1 rounds up
        (25, 0.1, 2, 3),
        (30, 0.1, 2, 3),
        (15, 0.5, 0, 8),
        (15, 0.0, 0, 0),
        (15, 0.0, 4, 4),
        (200, 0.1, 2, 20),
    ],
)
def test_additional_blanks_are_a_share_of_the_seats_rounded_up_but_at_least_the_minimum(
    seats: int, share: float, minimum: int, expected: int
) -> None:
    options = PrintOptions(additional_share=share, additional_min=minimum)
    assert options.additional_for(seats) == expected


def test_a_share_that_gives_a_whole_number_of_blanks_is_not_rounded_up_once_more() -> None:
    assert PrintOptions(additional_share=0.07, additional_min=0).additional_for(100) == 7


# --- seat_participants -----------------------------------------------------------------------

REG_SCHEMA: dict[str, Any] = {
    "registration_id": pl.Int64,
    "school_code": pl.Utf8,
    "room_id": pl.Int64,
    "class_name": pl.Utf8,
    "surname": pl.Utf8,
    "name": pl.Utf8,
    "patronymic": pl.Utf8,
}
ROOM_SCHEMA: dict[str, Any] = {
    "room_id": pl.Int64,
    "school_code": pl.Utf8,
    "room": pl.Utf8,
    "capacity": pl.Int64,
}


def _registrations(rows: list[tuple[Any, ...]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=REG_SCHEMA, orient="row")


def _rooms(rows: list[tuple[Any, ...]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=ROOM_SCHEMA, orient="row")


def _person(
    registration_id: int,
    school: str = "4201001",
    room_id: int | None = None,
    class_name: str | None = "11А",
    surname: str | None = None,
    name: str = "Иван",
    patronymic: str | None = "Иванович",
) -> tuple[Any, ...]:
    surname = surname or f"Фамилия{chr(ord('А') + registration_id % 30)}"
    return (registration_id, school, room_id, class_name, surname, name, patronymic)


def _seats(result: pl.DataFrame) -> dict[int, tuple[int | None, bool]]:
    return {r: (room, over) for r, room, over in result.iter_rows()}


def test_seating_fills_rooms_in_number_order_up_to_their_capacity() -> None:
    rooms = _rooms([(12, "4201001", "03", 5), (10, "4201001", "01", 2), (11, "4201001", "02", 2)])
    people = [_person(i, surname=s) for i, s in enumerate(["Антонов", "Борисов", "Волков"], 1)]
    people += [_person(4, surname="Громов"), _person(5, surname="Дмитриев")]
    result = seat_participants(_registrations(people), rooms)
    assert result.columns == ["registration_id", "room_id", "over_capacity"]
    assert result.rows() == [
        (1, 10, False),
        (2, 10, False),
        (3, 11, False),
        (4, 11, False),
        (5, 12, False),
    ]


def test_seating_keeps_each_school_in_its_own_rooms() -> None:
    rooms = _rooms([(10, "4201001", "01", 2), (20, "4201002", "01", 2), (21, "4201002", "02", 2)])
    people = [
        _person(1, school="4201002", surname="Антонов"),
        _person(2, school="4201001", surname="Антонов"),
        _person(3, school="4201002", surname="Борисов"),
        _person(4, school="4201002", surname="Волков"),
        _person(5, school="4201001", surname="Борисов"),
    ]
    seats = _seats(seat_participants(_registrations(people), rooms))
    assert seats == {
        2: (10, False),
        5: (10, False),
        1: (20, False),
        3: (20, False),
        4: (21, False),
    }


def test_seated_participants_keep_their_room_and_take_its_seats() -> None:
    rooms = _rooms([(10, "4201001", "01", 2), (11, "4201001", "02", 2)])
    people = [
        _person(1, room_id=10, surname="Яковлев"),  # already in 01, last in any order
        _person(2, room_id=11, surname="Юрьев"),
        _person(3, surname="Антонов"),
        _person(4, surname="Борисов"),
    ]
    result = seat_participants(_registrations(people), rooms)
    assert result.rows() == [(3, 10, False), (4, 11, False)]  # one free seat in each room


def test_a_room_filled_beyond_its_capacity_by_earlier_seats_takes_nobody_new() -> None:
    rooms = _rooms([(10, "4201001", "01", 1), (11, "4201001", "02", 3)])
    people = [_person(1, room_id=10), _person(2, room_id=10), _person(3, surname="Антонов")]
    assert seat_participants(_registrations(people), rooms).rows() == [(3, 11, False)]


def test_participants_beyond_every_seat_go_to_the_largest_room_marked_over_capacity() -> None:
    rooms = _rooms([(10, "4201001", "01", 1), (11, "4201001", "02", 2), (12, "4201001", "03", 1)])
    surnames = ["Антонов", "Борисов", "Волков", "Громов", "Дмитриев", "Егоров"]
    people = [_person(i, surname=s) for i, s in enumerate(surnames, 1)]
    result = seat_participants(_registrations(people), rooms)
    assert result.rows() == [
        (1, 10, False),
        (2, 11, False),
        (3, 11, False),
        (4, 12, False),
        (5, 11, True),
        (6, 11, True),
    ]
    assert result["over_capacity"].sum() == 2


def test_seated_participants_count_when_deciding_who_is_over_capacity() -> None:
    rooms = _rooms([(10, "4201001", "01", 2)])
    people = [_person(1, room_id=10), _person(2, surname="Антонов"), _person(3, surname="Борисов")]
    assert seat_participants(_registrations(people), rooms).rows() == [
        (2, 10, False),
        (3, 10, True),
    ]


def test_a_school_without_rooms_leaves_its_participants_without_a_room() -> None:
    rooms = _rooms([(10, "4201001", "01", 5)])
    people = [_person(1, school="4201009"), _person(2, school="4201001")]
    seats = _seats(seat_participants(_registrations(people), rooms))
    assert seats == {1: (None, False), 2: (10, False)}


def test_only_the_newly_seated_are_returned() -> None:
    rooms = _rooms([(10, "4201001", "01", 5)])
    people = [_person(1, room_id=10), _person(2), _person(3, room_id=10)]
    result = seat_participants(_registrations(people), rooms)
    assert result["registration_id"].to_list() == [2]


def test_with_everyone_seated_nothing_is_returned_in_the_same_columns() -> None:
    rooms = _rooms([(10, "4201001", "01", 5)])
    result = seat_participants(_registrations([_person(1, room_id=10)]), rooms)
    assert result.is_empty()
    assert result.schema == pl.Schema(
        {"registration_id": pl.Int64, "room_id": pl.Int64, "over_capacity": pl.Boolean}
    )
    empty = seat_participants(_registrations([]), rooms)
    assert empty.is_empty()
    assert empty.columns == ["registration_id", "room_id", "over_capacity"]


ORDERED = [  # the seating order: class, surname, name, patronymic (a missing one last)
    _person(1, class_name="11А", surname="Борисов", name="Андрей", patronymic="Петрович"),
    _person(2, class_name="11А", surname="Борисов", name="Иван", patronymic="Алексеевич"),
    _person(3, class_name="11А", surname="Борисов", name="Иван", patronymic="Петрович"),
    _person(4, class_name="11А", surname="Борисов", name="Иван", patronymic=None),
    _person(5, class_name="11А", surname="Волков", name="Андрей", patronymic="Петрович"),
    _person(6, class_name="11Б", surname="Антонов", name="Андрей", patronymic="Петрович"),
    _person(7, class_name=None, surname="Абрамов", name="Андрей", patronymic="Петрович"),
]


def test_seating_order_is_class_surname_name_patronymic_whatever_the_input_order() -> None:
    rooms = _rooms([(10 + i, "4201001", f"{i:02d}", 1) for i in range(1, 8)])
    expected = [(i, 10 + i, False) for i in range(1, 8)]
    shuffled = list(ORDERED)
    for seed in range(5):
        random.Random(seed).shuffle(shuffled)
        assert seat_participants(_registrations(shuffled), rooms).rows() == expected


def test_room_nine_fills_before_room_ten() -> None:
    rooms = _rooms([(10, "4201001", "10", 1), (9, "4201001", "9", 1)])
    people = [_person(1, surname="Антонов"), _person(2, surname="Борисов")]
    assert seat_participants(_registrations(people), rooms).rows() == [
        (1, 9, False),
        (2, 10, False),
    ]


# --- wanted_codes ----------------------------------------------------------------------------

EXISTING_SCHEMA: dict[str, Any] = {
    "kind": pl.Utf8,
    "school_id": pl.Int64,
    "registration_id": pl.Int64,
    "room_id": pl.Int64,
    "sequence": pl.Int64,
}


def _existing(rows: list[tuple[Any, ...]] | None = None) -> pl.DataFrame:
    return pl.DataFrame(rows or [], schema=EXISTING_SCHEMA, orient="row")


def _issued(requests: list[CodeRequest]) -> list[tuple[Any, ...]]:
    return [(r.kind, r.school_id, r.registration_id, r.room_id, r.sequence) for r in requests]


def _seated(rows: list[tuple[int, int, int | None]]) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        schema={"registration_id": pl.Int64, "school_id": pl.Int64, "room_id": pl.Int64},
        orient="row",
    )


ROOMS = pl.DataFrame(
    [(10, 1), (11, 1), (12, 1), (20, 2)],
    schema={"room_id": pl.Int64, "school_id": pl.Int64},
    orient="row",
)
NO_EXTRAS = PrintOptions(reserve_per_school=0, additional_min=0, additional_share=0)


def test_every_registration_without_a_kit_gets_a_kit_request() -> None:
    registrations = _seated([(1, 1, 10), (2, 1, 11), (3, 2, 20), (4, 1, None)])
    existing = _existing([("kit", 1, 2, 11, None)])
    requests = wanted_codes(registrations, ROOMS, existing, NO_EXTRAS)
    assert requests == [
        CodeRequest("kit", 1, registration_id=1, room_id=10),
        CodeRequest("kit", 2, registration_id=3, room_id=20),
        CodeRequest("kit", 1, registration_id=4, room_id=None),
    ]


def test_each_school_with_participants_gets_its_reserve_kits() -> None:
    registrations = _seated([(1, 2, 20), (2, 1, 10)])
    options = PrintOptions(reserve_per_school=3, additional_min=0, additional_share=0)
    requests = wanted_codes(registrations, ROOMS, _existing(), options)
    assert [r.kind for r in requests] == ["kit"] * 2 + ["reserve"] * 6
    assert [r for r in requests if r.kind == "reserve"] == [
        CodeRequest("reserve", 1, sequence=1),
        CodeRequest("reserve", 1, sequence=2),
        CodeRequest("reserve", 1, sequence=3),
        CodeRequest("reserve", 2, sequence=1),
        CodeRequest("reserve", 2, sequence=2),
        CodeRequest("reserve", 2, sequence=3),
    ]


def test_reserve_kits_already_issued_are_not_requested_again() -> None:
    registrations = _seated([(1, 1, 10), (2, 2, 20)])
    existing = _existing([("reserve", 1, None, None, 1), ("reserve", 2, None, None, 2)])
    options = PrintOptions(reserve_per_school=2, additional_min=0, additional_share=0)
    requests = wanted_codes(registrations, ROOMS, existing, options)
    assert [(r.school_id, r.sequence) for r in requests if r.kind == "reserve"] == [(1, 2), (2, 1)]


def test_no_reserve_kits_are_requested_when_the_option_is_zero() -> None:
    registrations = _seated([(1, 1, 10)])
    kinds = [r.kind for r in wanted_codes(registrations, ROOMS, _existing(), NO_EXTRAS)]
    assert kinds == ["kit"]


def test_additional_blanks_are_requested_per_room_by_its_seats() -> None:
    # room 10: 3 seats → 2 blanks, room 11: 1 seat → 1, room 12: empty → none; school 2: 1
    registrations = _seated([(1, 1, 10), (2, 1, 10), (3, 1, 10), (4, 1, 11), (5, 2, 20)])
    options = PrintOptions(reserve_per_school=0, additional_min=1, additional_share=0.5)
    additional = [
        (r.school_id, r.room_id, r.sequence)
        for r in wanted_codes(registrations, ROOMS, _existing(), options)
        if r.kind == "additional"
    ]
    assert additional == [(1, 10, 1), (1, 10, 2), (1, 11, 3), (2, 20, 1)]


def test_additional_sequences_continue_after_the_schools_existing_ones() -> None:
    registrations = _seated([(1, 1, 10), (2, 1, 10), (3, 1, 10), (4, 1, 11), (5, 2, 20)])
    options = PrintOptions(reserve_per_school=0, additional_min=1, additional_share=0.5)
    existing = _existing(
        [
            ("additional", 1, None, 10, 1),  # room 10 has one of its two
            ("additional", 1, None, 12, 5),  # an earlier blank of a room now empty
            ("additional", 2, None, 20, 1),  # school 2 has all it needs
        ]
    )
    additional = [
        (r.school_id, r.room_id, r.sequence)
        for r in wanted_codes(registrations, ROOMS, existing, options)
        if r.kind == "additional"
    ]
    assert additional == [(1, 10, 6), (1, 11, 7)]


def test_a_room_with_more_blanks_than_it_needs_gets_none_and_takes_none_from_others() -> None:
    registrations = _seated([(1, 1, 10), (2, 1, 11)])
    options = PrintOptions(reserve_per_school=0, additional_min=2, additional_share=0)
    existing = _existing([("additional", 1, None, 10, n) for n in range(1, 6)])
    additional = [
        (r.room_id, r.sequence)
        for r in wanted_codes(registrations, ROOMS, existing, options)
        if r.kind == "additional"
    ]
    assert additional == [(11, 6), (11, 7)]


def test_requests_come_as_kits_then_reserve_then_additional_blanks() -> None:
    registrations = _seated([(1, 1, 10), (2, 2, 20)])
    kinds = [r.kind for r in wanted_codes(registrations, ROOMS, _existing(), PrintOptions())]
    assert kinds == ["kit"] * 2 + ["reserve"] * 4 + ["additional"] * 4


def test_with_everything_issued_a_second_print_requests_nothing() -> None:
    registrations = _seated(
        [(i, 1 if i < 8 else 2, 10 + i % 3 if i < 8 else 20) for i in range(1, 12)]
    )
    options = PrintOptions(reserve_per_school=2, additional_min=1, additional_share=0.3)
    first = wanted_codes(registrations, ROOMS, _existing(), options)
    assert {r.kind for r in first} == {"kit", "reserve", "additional"}
    assert wanted_codes(registrations, ROOMS, _existing(_issued(first)), options) == []


def test_a_late_registration_needs_only_its_kit_and_the_rooms_extra_blanks() -> None:
    registrations = _seated([(1, 1, 10), (2, 1, 10)])
    options = PrintOptions(reserve_per_school=1, additional_min=0, additional_share=0.5)
    first = wanted_codes(registrations, ROOMS, _existing(), options)
    later = _seated([(1, 1, 10), (2, 1, 10), (3, 1, 10)])
    assert wanted_codes(later, ROOMS, _existing(_issued(first)), options) == [
        CodeRequest("kit", 1, registration_id=3, room_id=10),
        CodeRequest("additional", 1, room_id=10, sequence=2),  # ceil(1.5) = 2, one was issued
    ]


# --- allocate_codes --------------------------------------------------------------------------


def _requests(kits: int = 0, reserve: int = 0, additional: int = 0) -> list[CodeRequest]:
    return (
        [CodeRequest("kit", 1, registration_id=i) for i in range(kits)]
        + [CodeRequest("reserve", 1, sequence=i) for i in range(reserve)]
        + [CodeRequest("additional", 1, room_id=10, sequence=i) for i in range(additional)]
    )


def _serial(code: str) -> int:
    return int(code[5:11])


def test_every_allocated_code_is_a_valid_work_code_of_this_session() -> None:
    codes = allocate_codes(_requests(200, 20, 50), [], REGION, YEAR, SESSION, seed=1)
    assert len(codes) == 270
    for code in codes:
        assert is_valid_work_code(code), code
        assert code.startswith(PREFIX), code
        assert len(code) == 12


def test_another_region_year_and_session_change_the_prefix() -> None:
    codes = allocate_codes(_requests(5, 0, 5), [], "17", 2023, 3, seed=1)
    assert {code[:5] for code in codes} == {"17233"}
    assert all(is_valid_work_code(code) for code in codes)


def test_allocated_codes_are_unique() -> None:
    codes = allocate_codes(_requests(3000, 100, 1000), [], REGION, YEAR, SESSION, seed=2)
    assert len(set(codes)) == len(codes)
    assert len({_serial(c) for c in codes}) == len(codes)


def test_kits_and_reserve_draw_kit_serials_and_additional_blanks_draw_the_upper_ones() -> None:
    requests = _requests(100, 10, 100)
    random.Random(3).shuffle(requests)
    codes = allocate_codes(requests, [], REGION, YEAR, SESSION, seed=3)
    for request, code in zip(requests, codes, strict=True):
        pool = ADDITIONAL_SERIALS if request.kind == "additional" else KIT_SERIALS
        assert _serial(code) in pool, (request.kind, code)
    assert KIT_SERIALS.stop == ADDITIONAL_SERIALS.start
    assert (KIT_SERIALS.start, ADDITIONAL_SERIALS.stop) == (0, 1_000_000)


def test_the_same_seed_gives_the_same_codes_and_another_seed_others() -> None:
    requests = _requests(50, 5, 20)
    first = allocate_codes(requests, [], REGION, YEAR, SESSION, seed=42)
    assert allocate_codes(requests, [], REGION, YEAR, SESSION, seed=42) == first
    other = allocate_codes(requests, [], REGION, YEAR, SESSION, seed=43)
    assert other != first
    assert len(set(other) & set(first)) < 5


def test_codes_follow_the_order_of_the_requests() -> None:
    requests = _requests(30, 3, 10)
    random.Random(4).shuffle(requests)
    whole = allocate_codes(requests, [], REGION, YEAR, SESSION, seed=7)
    for n in (1, 10, 25):
        assert allocate_codes(requests[:n], [], REGION, YEAR, SESSION, seed=7) == whole[:n]


def test_no_code_already_used_is_issued_again() -> None:
    requests = _requests(500, 0, 200)
    used = allocate_codes(requests, [], REGION, YEAR, SESSION, seed=9)
    # the same seed would draw exactly these serials first: every one must be skipped
    again = allocate_codes(requests, used, REGION, YEAR, SESSION, seed=9)
    assert set(again).isdisjoint(used)
    assert len(set(again)) == len(again)


# every serial of the additional range as a used code (only positions 5-11 are read)
ALL_ADDITIONAL_USED = tuple(f"{PREFIX}{s:06d}0" for s in ADDITIONAL_SERIALS)


def test_the_last_free_serials_are_found_when_the_rest_are_used() -> None:
    free = {900_000, 954_321, 999_999}
    used = [code for code in ALL_ADDITIONAL_USED if _serial(code) not in free]
    codes = allocate_codes(_requests(0, 0, 3), used, REGION, YEAR, SESSION, seed=5)
    assert {_serial(c) for c in codes} == free


def test_more_requests_than_free_serials_is_a_value_error() -> None:
    too_many = [CodeRequest("additional", 1, room_id=10)] * (len(ADDITIONAL_SERIALS) + 1)
    with pytest.raises(ValueError, match="exhausted"):
        allocate_codes(too_many, [], REGION, YEAR, SESSION, seed=1)
    one_left = ALL_ADDITIONAL_USED[1:]
    with pytest.raises(ValueError, match="exhausted"):
        allocate_codes(_requests(0, 0, 2), one_left, REGION, YEAR, SESSION, seed=1)


def test_a_full_additional_range_does_not_block_kits() -> None:
    used = ALL_ADDITIONAL_USED
    codes = allocate_codes(_requests(2, 1, 0), used, REGION, YEAR, SESSION, seed=1)
    assert all(_serial(c) in KIT_SERIALS for c in codes)
    with pytest.raises(ValueError, match="exhausted"):
        allocate_codes(_requests(2, 1, 1), used, REGION, YEAR, SESSION, seed=1)


def test_no_requests_give_no_codes() -> None:
    assert allocate_codes([], [], REGION, YEAR, SESSION, seed=1) == []


# --- school_pages ----------------------------------------------------------------------------

WORKS_SCHEMA: dict[str, Any] = {
    "work_code": pl.Utf8,
    "kind": pl.Utf8,
    "school_code": pl.Utf8,
    "room": pl.Utf8,
    "class_name": pl.Utf8,
    "surname": pl.Utf8,
    "name": pl.Utf8,
    "patronymic": pl.Utf8,
    "document": pl.Utf8,
    "sequence": pl.Int64,
    "form": pl.Utf8,
}


def _code(serial: int) -> str:
    return make_work_code(REGION, YEAR, SESSION, serial)


def _kit(
    serial: int,
    room: str | None,
    surname: str,
    class_name: str | None = "11А",
    name: str = "Иван",
    patronymic: str | None = "Петрович",
    form: str = "essay",
) -> tuple[Any, ...]:
    document = f"4010 {100000 + serial}"
    code = _code(serial)
    return (
        code,
        "kit",
        "4201001",
        room,
        class_name,
        surname,
        name,
        patronymic,
        document,
        None,
        form,
    )


def _extra(serial: int, room: str | None, sequence: int) -> tuple[Any, ...]:
    return (_code(serial), "additional", "4201001", room, *[None] * 5, sequence, None)


def _reserve(serial: int, sequence: int) -> tuple[Any, ...]:
    return (_code(serial), "reserve", "4201001", None, *[None] * 5, sequence, None)


WORK_ROWS = [
    _reserve(91, 2),
    _extra(903, "02", 3),
    _kit(4, "02", "Антонов"),
    _kit(3, "01", "Волков", class_name="11Б"),
    _extra(901, "01", 1),
    _kit(2, "01", "Борисов", form="exposition"),
    _reserve(90, 1),
    _kit(1, "01", "Антонов", patronymic=None),
    _extra(902, "01", 2),
]
WORKS = pl.DataFrame(WORK_ROWS, schema=WORKS_SCHEMA, orient="row")
EXPECTED_ORDER = [  # (code serial, pages)
    (1, KIT),  # room 01, 11А: Антонов, Борисов; 11Б: Волков
    (2, KIT),
    (3, KIT),
    (901, EXTRA),  # room 01's additional blanks
    (902, EXTRA),
    (4, KIT),  # room 02
    (903, EXTRA),
    (90, KIT),  # reserve kits last
    (91, KIT),
]


def _page_list(pages: list[Any]) -> list[tuple[BlankType, int, str]]:
    return [(p.blank_type, p.page, p.code) for p in pages]


def test_a_schools_pages_go_room_by_room_then_additional_blanks_then_reserve_kits() -> None:
    pages = school_pages(WORKS, HEADER, REGION)
    expected = [(b, p, _code(s)) for s, spec in EXPECTED_ORDER for b, p in spec]
    assert _page_list(pages) == expected
    assert len(pages) == 3 * 4 + 2 * 3 + 3 * 2
    assert {p.header for p in pages} == {HEADER}


def test_the_page_order_does_not_depend_on_the_order_of_the_rows() -> None:
    expected = _page_list(school_pages(WORKS, HEADER, REGION))
    for seed in range(3):
        rows = list(WORK_ROWS)
        random.Random(seed).shuffle(rows)
        shuffled = pl.DataFrame(rows, schema=WORKS_SCHEMA, orient="row")
        assert _page_list(school_pages(shuffled, HEADER, REGION)) == expected


def test_the_registration_page_carries_the_participants_data_and_answer_pages_none() -> None:
    pages = school_pages(WORKS, HEADER, REGION)
    first = {(p.blank_type, p.page): p for p in pages if p.code == _code(2)}
    assert first[(R, 1)].printed == {
        "region": "42",
        "school_code": "4201001",
        "room": "01",
        "class_name": "11А",
        "surname": "Борисов",
        "name": "Иван",
        "patronymic": "Петрович",
        "document": "4010 100002",
    }
    assert first[(W, 1)].printed == {}
    assert first[(W, 2)].printed == {}
    no_patronymic = next(p for p in pages if p.code == _code(1) and p.blank_type is R)
    assert no_patronymic.printed["patronymic"] == ""


def test_additional_blanks_print_no_personal_data() -> None:
    pages = [p for p in school_pages(WORKS, HEADER, REGION) if p.blank_type is D]
    assert len(pages) == 6
    assert all(p.printed == {} for p in pages)


def test_reserve_kits_print_the_school_and_the_room_reserve_only() -> None:
    pages = school_pages(WORKS, HEADER, REGION)
    for serial in (90, 91):
        kit = [p for p in pages if p.code == _code(serial)]
        assert [(p.blank_type, p.page) for p in kit] == KIT
        assert kit[0].printed == {"region": "42", "school_code": "4201001", "room": "резерв"}
        assert kit[1].printed == kit[2].printed == {}


def test_kits_without_a_room_or_class_come_after_the_numbered_rooms_with_a_dash() -> None:
    rows = [_kit(5, None, "Абрамов", class_name=None), _kit(6, "01", "Яковлев"), _reserve(90, 1)]
    rows.append(_extra(905, None, 1))
    pages = school_pages(pl.DataFrame(rows, schema=WORKS_SCHEMA, orient="row"), HEADER, REGION)
    fronts = [p.code for p in pages if p.blank_type is not W and p.page == 1]
    assert fronts == [_code(c) for c in (6, 5, 905, 90)]
    roomless = next(p for p in pages if p.code == _code(5) and p.blank_type is R)
    assert roomless.printed["room"] == NO_ROOM == "—"
    assert roomless.printed["class_name"] == ""


def test_a_school_with_only_reserve_kits_prints_only_those() -> None:
    works = pl.DataFrame([_reserve(90, 1)], schema=WORKS_SCHEMA, orient="row")
    assert _page_list(school_pages(works, HEADER, REGION)) == [(b, p, _code(90)) for b, p in KIT]


# --- school_room_forms -----------------------------------------------------------------------


def test_there_is_one_room_form_per_room_with_kits_in_room_order() -> None:
    forms = school_room_forms(WORKS, HEADER, "4201001 · МБОУ СОШ № 1")
    assert [f.room for f in forms] == ["01", "02"]
    assert {f.header for f in forms} == {HEADER}
    assert {f.school for f in forms} == {"4201001 · МБОУ СОШ № 1"}


def test_seats_are_numbered_from_one_in_the_order_the_kits_are_printed() -> None:
    forms = school_room_forms(WORKS, HEADER, "4201001")
    pages = school_pages(WORKS, HEADER, REGION)
    printed_kits = [p.code for p in pages if p.blank_type is R and p.printed["room"] != "резерв"]
    assert [s.work_code for f in forms for s in f.seats] == printed_kits
    for form in forms:
        assert [s.number for s in form.seats] == list(range(1, len(form.seats) + 1))


def test_a_seat_shows_the_full_name_document_and_form_in_russian() -> None:
    seats = school_room_forms(WORKS, HEADER, "4201001")[0].seats
    assert [(s.full_name, s.document, s.form) for s in seats] == [
        ("Антонов Иван", "4010 100001", "сочинение"),
        ("Борисов Иван Петрович", "4010 100002", "изложение"),
        ("Волков Иван Петрович", "4010 100003", "сочинение"),
    ]


def test_reserve_kits_and_additional_blanks_have_no_seat() -> None:
    forms = school_room_forms(WORKS, HEADER, "4201001")
    codes = {s.work_code for f in forms for s in f.seats}
    assert codes == {_code(s) for s in (1, 2, 3, 4)}


def test_kits_without_a_room_get_a_form_of_their_own_marked_with_a_dash() -> None:
    rows = [_kit(5, None, "Абрамов"), _kit(6, "01", "Яковлев"), _kit(7, None, "Борисов")]
    forms = school_room_forms(pl.DataFrame(rows, schema=WORKS_SCHEMA, orient="row"), HEADER, "x")
    assert [(f.room, [s.number for s in f.seats]) for f in forms] == [("01", [1]), ("—", [1, 2])]


# --- kits_checks -----------------------------------------------------------------------------

KITS_SCHEMA: dict[str, Any] = {
    "registration_id": pl.Int64,
    "work_code": pl.Utf8,
    "kind": pl.Utf8,
    "school_code": pl.Utf8,
    "room": pl.Utf8,
}


def _kits(rows: list[tuple[Any, ...]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=KITS_SCHEMA, orient="row")


def _by_id(checked: pl.DataFrame, key: str = "registration_id") -> dict[Any, dict[str, Any]]:
    return {row[key]: row for row in checked.iter_rows(named=True)}


def _bad_check_digit(code: str) -> str:
    return code[:-1] + str((int(code[-1]) + 1) % 10)


def test_a_valid_code_of_this_session_counted_as_the_manifest_says_passes_both() -> None:
    kits = _kits([(1, _code(1), "kit", "4201001", "01"), (2, _code(2), "kit", "4201001", "01")])
    checked = kits_checks(kits, {("4201001", "01", "kit"): 2}, PREFIX)
    assert checked.columns == [*KITS_SCHEMA, "ok__work_code_valid", "ok__manifest_counts"]
    assert checked.height == 2
    assert checked["ok__work_code_valid"].to_list() == [True, True]
    assert checked["ok__manifest_counts"].to_list() == [True, True]


@pytest.mark.parametrize(
    "code",
    [
        _bad_check_digit(_code(1)),
        make_work_code("42", 2017, 2, 1),  # another session of the year
        make_work_code("42", 2016, 1, 1),  # the same session a year earlier
        make_work_code("17", 2017, 1, 1),  # another region
        "42171000001",  # 11 digits
        "",
        None,
    ],
    ids=["check-digit", "session", "year", "region", "short", "empty", "missing"],
)
def test_a_bad_foreign_or_missing_code_fails_the_work_code_check(code: str | None) -> None:
    kits = _kits([(1, code, "kit", "4201001", "01"), (2, _code(2), "kit", "4201001", "01")])
    checked = _by_id(kits_checks(kits, {("4201001", "01", "kit"): 2}, PREFIX))
    assert checked[1]["ok__work_code_valid"] is False
    assert checked[2]["ok__work_code_valid"] is True


def test_a_group_counted_otherwise_than_in_the_manifest_fails_the_manifest_check() -> None:
    kits = _kits(
        [
            (1, _code(1), "kit", "4201001", "01"),
            (2, _code(2), "kit", "4201001", "01"),
            (3, _code(3), "kit", "4201001", "02"),
            (None, _code(901), "additional", "4201001", "01"),
            (None, _code(90), "reserve", "4201001", ""),
            (4, _code(4), "kit", "4201002", "01"),
        ]
    )
    manifest = {
        ("4201001", "01", "kit"): 3,  # one too many listed
        ("4201001", "02", "kit"): 1,
        ("4201001", "01", "additional"): 1,
        ("4201001", "", "reserve"): 1,
        # school 4201002 is missing from the manifest
    }
    checked = _by_id(kits_checks(kits, manifest, PREFIX), "work_code")
    outcome = {code: row["ok__manifest_counts"] for code, row in checked.items()}
    assert outcome == {
        _code(1): False,
        _code(2): False,
        _code(3): True,
        _code(901): True,
        _code(90): True,
        _code(4): False,
    }
    assert all(row["ok__work_code_valid"] for row in checked.values())


def test_the_manifest_check_tells_kinds_apart_within_a_room() -> None:
    kits = _kits(
        [(1, _code(1), "kit", "4201001", "01"), (None, _code(901), "additional", "4201001", "01")]
    )
    manifest = {("4201001", "01", "kit"): 2}  # both codes listed as kits
    checked = _by_id(kits_checks(kits, manifest, PREFIX), "work_code")
    assert checked[_code(1)]["ok__manifest_counts"] is False
    assert checked[_code(901)]["ok__manifest_counts"] is False
    fixed = {("4201001", "01", "kit"): 1, ("4201001", "01", "additional"): 1}
    assert kits_checks(kits, fixed, PREFIX)["ok__manifest_counts"].all()


def test_an_empty_manifest_fails_every_row_and_keeps_them_all() -> None:
    kits = _kits([(1, _code(1), "kit", "4201001", "01"), (2, None, "kit", "4201001", "")])
    checked = kits_checks(kits, {}, PREFIX)
    assert checked.height == 2
    assert not checked["ok__manifest_counts"].any()
    assert sorted(checked["registration_id"].to_list()) == [1, 2]
