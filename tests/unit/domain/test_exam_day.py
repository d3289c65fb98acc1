"""The exam-day simulator's decisions (tasks/domain/exam_day.py, exam_day_scans.py): flags
exclude each other, the oral form is for ОВЗ only, flagged works are not graded, marks obey the
2017/18 rule, everything follows the seed, and every issued page is accounted for."""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any

import numpy as np
import pytest

from tasks.domain.blanks import BlankType, FieldKind, layout_for
from tasks.domain.exam_day import (
    CRITERIA,
    GROUPS,
    ExamDayOptions,
    WorkOutcome,
    decide_works,
    exam_day_options,
    ground_truth,
    ink_pages,
    overall_2017,
    page_key,
    read_manifest,
    room_records,
    scanned_pages,
)
from tasks.domain.exam_day_scans import (
    PRESETS,
    PageEffects,
    mm_to_px,
    page_size_px,
    plan_scans,
    scan_options,
)
from tasks.domain.identifiers import make_work_code
from tasks.errors import DataError

KIT = (("registration", 1), ("answer", 1), ("answer", 2))


def manifest_data(
    rooms: dict[str, dict[str, int]], additional: int = 2, reserve: int = 1, ovz_every: int = 5
) -> dict[str, Any]:
    """A print manifest (no PDF behind it): `rooms` maps a school to its rooms' kit counts."""
    serial = iter(range(1, 1_000_000))
    files, works, extra = [], [], []
    for school, school_rooms in sorted(rooms.items()):
        pages = []
        for room, kits in sorted(school_rooms.items()):
            for _ in range(kits):
                code = make_work_code("42", 2017, 1, next(serial))
                n = len(works)
                works.append(
                    {
                        "work_code": code,
                        "school_code": school,
                        "room": room,
                        "kind": "kit",
                        "form": "exposition" if n % 17 == 3 else "essay",
                        "oral": n % 7 == 0,
                        "ovz": n % ovz_every == 0,
                        "pages": 3,
                    }
                )
                pages += [{"blank_type": t, "page": p, "code": code, "room": room} for t, p in KIT]
            for _ in range(additional):
                code = make_work_code("42", 2017, 1, 900_000 + next(serial))
                extra.append(
                    {
                        "code": code,
                        "kind": "additional",
                        "school_code": school,
                        "room": room,
                        "pages": 2,
                    }
                )
                pages += [
                    {"blank_type": "additional", "page": p, "code": code, "room": room}
                    for p in (1, 2)
                ]
        for _ in range(reserve):
            code = make_work_code("42", 2017, 1, next(serial))
            works.append(
                {
                    "work_code": code,
                    "school_code": school,
                    "room": None,
                    "kind": "reserve",
                    "form": "essay",
                    "oral": False,
                    "ovz": False,
                    "pages": 3,
                }
            )
            pages += [{"blank_type": t, "page": p, "code": code, "room": None} for t, p in KIT]
        files.append(
            {"school_code": school, "path": f"{school}/Комплекты_{school}.pdf", "pages": pages}
        )
    return {
        "schema_version": 1,
        "session": "2017-12-06",
        "region": "42",
        "header": "…",
        "files": files,
        "works": works,
        "additional": extra,
        "counts": {},
    }


SMALL = manifest_data({"4201001": {"01": 15, "02": 12}, "4201002": {"01": 14}})
LARGE = manifest_data({f"42010{i:02d}": {"01": 15, "02": 15, "03": 10} for i in range(1, 7)})


def outcomes_of(data: dict[str, Any], **options: Any) -> list[WorkOutcome]:
    return decide_works(read_manifest(data), ExamDayOptions(**options))


def kits_of(outcomes: list[WorkOutcome]) -> list[WorkOutcome]:
    return [o for o in outcomes if o.work.kind == "kit"]


# --- the work's fate ----------------------------------------------------------------------------


def test_not_finished_and_removed_never_go_together() -> None:
    outcomes = outcomes_of(LARGE, not_finished=0.5, removed=0.5, absent=0.0)
    present = [o for o in outcomes if o.present]
    assert not any(o.not_finished and o.removed for o in present)
    assert any(o.not_finished for o in present)
    assert any(o.removed for o in present)


def test_oral_form_only_for_ovz_participants() -> None:
    outcomes = outcomes_of(LARGE, oral_unregistered=1.0, absent=0.0)
    oral = [o for o in outcomes if o.oral]
    assert oral
    assert all(o.work.ovz for o in oral)
    # Registered oral without ОВЗ (a registry slip) still writes in the ordinary form.
    assert any(o.work.oral and not o.work.ovz and not o.oral for o in outcomes)


def test_flagged_works_get_no_expert_marks_and_no_result_marks_on_the_original() -> None:
    options = ExamDayOptions(not_finished=0.3, removed=0.3, absent=0.0)
    outcomes = decide_works(read_manifest(LARGE), options)
    inks = ink_pages(outcomes, options)
    flagged = [o for o in outcomes if o.flagged]
    assert flagged
    for o in flagged:
        assert o.expert_marks is None
        assert o.original_marks is None
        marks = inks[page_key(BlankType.REGISTRATION, o.work.work_code, 1)].marks
        assert {m.field for m in marks} <= {"flag_not_finished", "flag_removed", "flag_oral"}
        assert ("flag_not_finished" in {m.field for m in marks}) is o.not_finished


def test_expert_marks_obey_the_2017_rule() -> None:
    outcomes = outcomes_of(LARGE, short=0.2, not_independent=0.1, absent=0.0)
    graded = [o for o in outcomes if o.expert_marks is not None]
    assert len(graded) > 100
    for o in graded:
        marks = o.expert_marks
        assert marks is not None
        assert set(marks) == set(GROUPS)
        if "незачет" in (marks["requirement_1"], marks["requirement_2"]):
            assert all(marks[k] == "незачет" for k in (*CRITERIA, "overall"))
        assert marks["overall"] == overall_2017(marks)
        assert (marks["requirement_1"] == "зачет") is (
            o.words >= (250 if o.work.form == "essay" else 150)
        )
    overall = {o.expert_marks["overall"] for o in graded if o.expert_marks}
    assert overall == {"зачет", "незачет"}


@pytest.mark.parametrize(
    ("marks", "expected"),
    [
        ({"k1": "зачет", "k2": "зачет", "k3": "незачет", "k4": "незачет", "k5": "зачет"}, "зачет"),
        (
            {"k1": "зачет", "k2": "зачет", "k3": "незачет", "k4": "незачет", "k5": "незачет"},
            "незачет",
        ),
        ({"k1": "незачет", "k2": "зачет", "k3": "зачет", "k4": "зачет", "k5": "зачет"}, "незачет"),
    ],
)
def test_overall_needs_k1_k2_and_one_of_k3_to_k5(marks: dict[str, str], expected: str) -> None:
    full = {"requirement_1": "зачет", "requirement_2": "зачет", **marks}
    assert overall_2017(full) == expected
    assert overall_2017({**full, "requirement_2": "незачет"}) == "незачет"


def test_word_counts_look_like_real_essays() -> None:
    outcomes = outcomes_of(LARGE, absent=0.0, not_finished=0.0, removed=0.0)
    essays = [o.words for o in outcomes if o.present and o.work.form == "essay"]
    expositions = [o.words for o in outcomes if o.present and o.work.form == "exposition"]
    in_range = sum(250 <= w <= 600 for w in essays) / len(essays)
    short = sum(w < 250 for w in essays) / len(essays)
    assert in_range > 0.8
    assert 0 < short < 0.12
    assert len(set(essays)) > len(essays) / 3  # no spike at the threshold
    assert expositions
    assert sum(w >= 150 for w in expositions) / len(expositions) > 0.85


def test_absent_participants_and_unused_reserve_kits_leave_their_blanks_empty() -> None:
    options = ExamDayOptions(absent=0.3)
    outcomes = decide_works(read_manifest(LARGE), options)
    inks = ink_pages(outcomes, options)
    empty = [o for o in outcomes if not o.present]
    assert {o.attendance for o in empty} == {"absent", "unused"}
    for o in empty:
        assert o.answer_blanks == 0
        assert o.expert_marks is None
        for t, p in KIT:
            assert page_key(t, o.work.work_code, p) not in inks


def test_additional_blanks_come_from_the_rooms_stack_with_sheet_numbers() -> None:
    data = manifest_data({"4201001": {"01": 15, "02": 15}}, additional=2)
    options = ExamDayOptions(absent=0.0, not_finished=0.0, removed=0.0)
    manifest = read_manifest(data)
    outcomes = decide_works(manifest, options)
    inks = ink_pages(outcomes, options)
    room_of = {a.code: a.room for a in manifest.additional}
    used = [code for o in outcomes for code in o.additional]
    assert used, "long essays need additional blanks"
    assert len(used) == len(set(used))
    for o in outcomes:
        assert o.answer_blanks == (1 + len(o.additional) if o.present else 0)
        for sheet, code in enumerate(o.additional, start=2):
            assert room_of[code] == o.work.room
            ink = inks[page_key(BlankType.ADDITIONAL, code, 1)]
            cells = {d.field: "".join(d.cells) for d in ink.digits}
            assert cells == {"work_code": o.written_codes[ink.key], "sheet_number": f"{sheet:02d}"}
        if o.present:
            reg = inks[page_key(BlankType.REGISTRATION, o.work.work_code, 1)]
            count = next(d for d in reg.digits if d.field == "answer_blanks")
            assert int("".join(count.cells)) == o.answer_blanks


def test_text_fills_the_sides_in_order_and_z_cancels_the_rest() -> None:
    options = ExamDayOptions(absent=0.0)
    outcomes = decide_works(read_manifest(LARGE), options)
    inks = ink_pages(outcomes, options)
    for o in (o for o in outcomes if o.present):
        sides = [
            page_key(BlankType.ANSWER, o.work.work_code, 1),
            page_key(BlankType.ANSWER, o.work.work_code, 2),
        ]
        for code in o.additional:
            sides += [page_key(BlankType.ADDITIONAL, code, p) for p in (1, 2)]
        written = [inks[k] for k in sides]
        assert sum(i.words for i in written) == o.words
        for before, after in itertools.pairwise(written):
            if after.lines:  # a later side is written only after the earlier one is full
                capacity = layout_for(*_side(before.key)).field("text").lines
                assert len(before.lines) == capacity
        for ink in written:
            capacity = layout_for(*_side(ink.key)).field("text").lines
            assert len(ink.lines) <= capacity
            assert (ink.z_from_line is not None) is (capacity - len(ink.lines) >= 2)


def _side(key: str) -> tuple[BlankType, int]:
    name = key.split(":")[0]
    blank, page = name.rsplit("-", 1)
    return BlankType(blank), int(page)


def test_transcription_errors_change_exactly_one_group_of_the_original() -> None:
    outcomes = outcomes_of(LARGE, transcription_errors=1.0, absent=0.0)
    graded = [o for o in outcomes if o.expert_marks is not None]
    for o in graded:
        assert o.original_marks is not None
        assert o.expert_marks is not None
        differs = [g for g in GROUPS if o.original_marks[g] != o.expert_marks[g]]
        assert differs == list(o.transcription_errors)
        assert len(differs) == 1


def test_wrong_work_codes_differ_in_one_digit() -> None:
    outcomes = outcomes_of(LARGE, code_errors=1.0, absent=0.0)
    for o in (o for o in outcomes if o.present):
        for written in o.written_codes.values():
            assert len(written) == 12
            assert sum(a != b for a, b in zip(written, o.work.work_code, strict=True)) == 1


def test_the_same_seed_decides_the_same_day_and_another_seed_another() -> None:
    first = outcomes_of(LARGE, seed=5)
    assert outcomes_of(LARGE, seed=5) == first
    assert outcomes_of(LARGE, seed=6) != first


def test_a_works_fate_depends_on_its_code_not_on_the_order_of_the_manifest() -> None:
    reversed_data = {**SMALL, "works": list(reversed(SMALL["works"]))}
    one = {o.work.work_code: o for o in outcomes_of(SMALL, seed=9)}
    other = {o.work.work_code: o for o in outcomes_of(reversed_data, seed=9)}
    for code, o in one.items():
        assert (o.attendance, o.not_finished, o.removed, o.oral, o.topic) == (
            other[code].attendance,
            other[code].not_finished,
            other[code].removed,
            other[code].oral,
            other[code].topic,
        )


def test_topics_are_the_sessions_and_are_checked() -> None:
    outcomes = outcomes_of(LARGE, topics=("205", "301"), absent=0.0)
    assert {o.topic for o in outcomes if o.present} == {"205", "301"}
    with pytest.raises(DataError):
        ExamDayOptions(topics=("05",))


def test_options_refuse_unknown_names_and_bad_shares() -> None:
    with pytest.raises(DataError, match="неизвестные"):
        exam_day_options(1, None, {"absentees": 0.1})
    with pytest.raises(DataError):
        exam_day_options(1, None, {"absent": 1.5})
    assert exam_day_options(1, ["101"], {"absent": 0.2}).absent == 0.2


def test_a_manifest_whose_pages_do_not_match_its_codes_is_refused() -> None:
    broken = {
        **SMALL,
        "files": [
            {**SMALL["files"][0], "pages": SMALL["files"][0]["pages"][1:]},
            *SMALL["files"][1:],
        ],
    }
    with pytest.raises(DataError, match="не совпадают"):
        read_manifest(broken)
    with pytest.raises(DataError, match="версия"):
        read_manifest({**SMALL, "schema_version": 2})


def test_room_records_list_every_kit_with_its_flags() -> None:
    outcomes = outcomes_of(SMALL, absent=0.2, not_finished=0.1)
    records = room_records(outcomes)
    rows = [r for school in records.values() for r in school]
    assert len(rows) == len(kits_of(outcomes))
    by_code = {r["work_code"]: r for r in rows}
    for o in kits_of(outcomes):
        row = by_code[o.work.work_code]
        assert row["attendance"] == o.attendance
        assert row["not_finished"] == ("1" if o.not_finished else "0")
        assert row["answer_blanks"] == str(o.answer_blanks)


# --- scans and the ground truth -----------------------------------------------------------------


def truth_of(
    data: dict[str, Any], preset: str = "harsh", seed: int = 3, **scan: Any
) -> dict[str, Any]:
    options = ExamDayOptions(seed=seed)
    manifest = read_manifest(data)
    outcomes = decide_works(manifest, options)
    inks = ink_pages(outcomes, options)
    plan = plan_scans(scanned_pages(manifest, outcomes, options), scan_options(preset, scan), seed)
    return ground_truth(manifest, outcomes, inks, plan, options, {"seed": seed})


def test_every_issued_page_is_scanned_or_listed_as_missing() -> None:
    truth = truth_of(LARGE, missing=0.05, duplicates=0.05)
    counts = truth["counts"]
    assert counts["pages_issued"] == sum(len(f["pages"]) for f in LARGE["files"])
    assert counts["pages_missing"] > 0
    assert counts["duplicates"] > 0
    assert counts["pages_issued"] == counts["pages_scanned"] + counts["pages_missing"]
    assert counts["images"] == counts["pages_scanned"] + counts["duplicates"]
    missing = {m["page_key"] for m in truth["missing"]}
    imaged = {i["page_key"] for i in truth["images"]}
    assert not missing & imaged
    assert missing | imaged == {p["page_key"] for p in truth["pages"]}
    statuses = {p["page_key"]: p["status"] for p in truth["pages"]}
    assert all(statuses[k] == "missing" for k in missing)


def test_a_duplicate_is_marked_on_the_later_scan_only() -> None:
    truth = truth_of(LARGE, duplicates=0.2)
    seen: set[str] = set()
    for image in truth["images"]:  # in file order within each school
        assert image["duplicate"] is (image["page_key"] in seen)
        seen.add(image["page_key"])


def test_unscanned_unused_blanks_are_accounted_for() -> None:
    options = ExamDayOptions(scan_unused=False)
    manifest = read_manifest(SMALL)
    outcomes = decide_works(manifest, options)
    plan = plan_scans(scanned_pages(manifest, outcomes, options), PRESETS["none"], 1)
    truth = ground_truth(manifest, outcomes, ink_pages(outcomes, options), plan, options, {})
    not_scanned = [p for p in truth["pages"] if p["status"] == "not_scanned"]
    assert not_scanned
    assert all(p["work_code"] is None or p["blank_type"] != "additional" for p in not_scanned)
    counts = truth["counts"]
    assert counts["pages_issued"] == (
        counts["pages_scanned"] + counts["pages_missing"] + counts["pages_not_scanned"]
    )


def test_counts_add_up_over_works() -> None:
    counts = truth_of(LARGE)["counts"]
    assert counts["present"] + counts["absent"] == counts["kits"]
    assert counts["graded"] == counts["present"] - counts["not_finished"] - counts["removed"]
    assert counts["works"] == counts["kits"] + counts["reserve"]


def test_the_ground_truth_is_the_same_for_the_same_seed() -> None:
    assert truth_of(SMALL, seed=4) == truth_of(SMALL, seed=4)
    assert truth_of(SMALL, seed=4) != truth_of(SMALL, seed=5)


def test_every_digit_field_of_every_page_is_in_the_ground_truth() -> None:
    truth = truth_of(SMALL)
    for page in truth["pages"]:
        layout = layout_for(BlankType(page["blank_type"]), page["page"])
        names = {f.name for f in layout.of_kind(FieldKind.DIGIT_CELLS)}
        assert set(page["handwritten"]["digits"]) == names


def test_the_turned_share_turns_pages_and_a_pdf_or_two_is_delivered() -> None:
    truth = truth_of(LARGE, "moderate", turned=0.5)
    share = truth["counts"]["turned"] / truth["counts"]["images"]
    assert 0.4 < share < 0.6
    pdf_schools = {i["school_code"] for i in truth["images"] if i["format"] == "pdf"}
    assert len(pdf_schools) == 2


def test_file_names_are_counters_only() -> None:
    truth = truth_of(LARGE, "moderate")
    codes = {w["work_code"] for w in truth["works"]} | {a["code"] for a in truth["additional"]}
    for image in truth["images"]:
        name = image["file"].rsplit("/", 1)[1]
        assert not any(code in name for code in codes)
        assert name.split(".")[0].lstrip("scanIMG_S").isdigit()


def test_effects_off_map_the_page_to_the_image_by_resolution_alone() -> None:
    effects = PageEffects(dpi=300)
    k = 300 / 25.4
    assert np.allclose(mm_to_px(effects), np.diag([k, k, 1.0]))
    assert page_size_px(300) == (2480, 3508)


def test_a_turned_page_maps_its_top_left_corner_to_the_bottom_right() -> None:
    m = mm_to_px(PageEffects(dpi=200, turned=True))
    x, y, w = m @ np.array([0.0, 0.0, 1.0])
    width, height = page_size_px(200)
    assert abs(x / w - width) < 1
    assert abs(y / w - height) < 1


def test_perspective_moves_the_corners_by_the_given_millimetres() -> None:
    corners = ((1.0, 0.0), (0.0, 2.0), (-1.0, 0.0), (0.5, 0.5))
    m = mm_to_px(PageEffects(dpi=254, perspective_mm=corners))
    for (cx, cy), (dx, dy) in zip(((0, 0), (210, 0), (210, 297), (0, 297)), corners, strict=True):
        x, y, w = m @ np.array([cx, cy, 1.0])
        assert np.allclose((x / w / 10, y / w / 10), (cx + dx, cy + dy), atol=1e-6)


def test_effects_can_be_switched_off_one_by_one() -> None:
    harsh = PRESETS["harsh"]
    calm = harsh.without(["rotation", "noise", "binarize"])
    assert calm.rotation_deg == 0
    assert calm.noise == 0
    assert calm.binarize == 0
    assert calm.turned == harsh.turned
    with pytest.raises(DataError, match="неизвестный эффект"):
        harsh.without(["sparkle"])
    with pytest.raises(DataError):
        scan_options("moderate", {"turned": 2.0})
    with pytest.raises(DataError):
        scan_options("gentle")


def test_presets_are_what_the_scan_stage_measures_against() -> None:
    moderate, harsh = PRESETS["moderate"], PRESETS["harsh"]
    assert moderate.rotation_deg == 3
    assert set(moderate.dpi) == {200, 300}
    assert moderate.jpeg_quality == (60, 90)
    assert harsh.rotation_deg == 10
    assert harsh.dpi == (150,)
    assert harsh.binarize == 1.0
    assert dataclasses.replace(PRESETS["none"]).rotation_deg == 0


def test_the_outside_preset_dithers_stains_and_shears_and_the_map_includes_the_shear() -> None:
    outside = PRESETS["outside"]
    assert outside.dither > 0.5
    assert outside.stains > 0
    assert outside.shear_deg > 0
    assert outside.jpeg_quality == (30, 55)
    assert set(outside.dpi) == {150, 200}
    calm = outside.without(["dither", "stains", "shear"])
    assert (calm.dither, calm.stains, calm.shear_deg) == (0.0, 0.0, 0.0)
    # A shear of the feed moves x with y about the page centre, y stays.
    m = mm_to_px(PageEffects(dpi=254, shear_deg=1.0))
    t = np.tan(np.radians(1.0))
    for y in (0.0, 297.0):
        x, yy, w = m @ np.array([105.0, y, 1.0])
        assert np.allclose((x / w / 10, yy / w / 10), (105.0 + t * (y - 148.5), y), atol=1e-6)


def test_dithering_and_stains_do_not_change_the_other_presets_plans() -> None:
    pages = {"4201001": [f"answer-1:{n:012d}" for n in range(40)]}
    plain = plan_scans(pages, PRESETS["moderate"], 3)
    again = plan_scans(pages, dataclasses.replace(PRESETS["moderate"], dither=0.0), 3)
    assert plain == again
    assert all(not f.effects.dither and not f.effects.stains for _, f in plain.frames())
    dithered = plan_scans(pages, dataclasses.replace(PRESETS["moderate"], dither=1.0), 3)
    scanner = dithered.scanners["4201001"]
    assert scanner.binarize
    assert scanner.dither in ("error-diffusion", "ordered")
    assert all(f.effects.dither == scanner.dither for _, f in dithered.frames())
