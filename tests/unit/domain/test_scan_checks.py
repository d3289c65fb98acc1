"""The batch's cross-checks (tasks/domain/scan_checks.py) on the committed scan samples: the second
scan of a page is rejected and points at the first, a page of another session is rejected, a
work's page without its registration blank is sent to verification as an orphan, the sheet
count is checked against the pages received, and every status and reason stays within the
fixed vocabulary (an unreadable file's record stays rejected). On drawn cells: an empty count
of a work with additional blanks is not accepted, a count above the sheets received blames an
additional blank whose code was not read rather than the count, and a work code with a digit
unread is told apart from another code written."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from tasks.domain.digit_fields import DigitModel
from tasks.domain.page_reading import REASONS, STATUSES, DigitCells, rejected
from tasks.domain.scan_checks import SessionCodes, check_batch, page_key
from tests.scan_samples_support import by_name, engines, session, truth


def check(*names: str, codes: SessionCodes | None = None) -> tuple[dict[str, dict], object]:
    _, model = engines()
    records, summary = check_batch(by_name(*names), model, codes or session())
    assert [r["source_file"] for r in records] == list(names)  # input order kept
    return {r["source_file"]: r for r in records}, summary


def test_the_second_scan_of_a_page_is_rejected_pointing_at_the_first() -> None:
    out, summary = check("registration_scan_1.jpg", "registration_scan_2.jpg", "answer_1bit.png")
    first, second = out["registration_scan_1.jpg"], out["registration_scan_2.jpg"]
    assert first["status"] == "accepted"
    assert (second["status"], second["reasons"]) == ("rejected", ["duplicate_page"])
    assert second["duplicate_of"] == "id-registration_scan_1.jpg"
    assert "duplicate_of" not in first
    assert summary.statuses == {"accepted": 2, "rejected": 1}
    assert summary.reasons == {"duplicate_page": 1}


def test_the_first_scan_in_batch_order_is_the_one_kept() -> None:
    out, _ = check("registration_scan_2.jpg", "registration_scan_1.jpg")
    assert out["registration_scan_2.jpg"]["status"] == "accepted"
    assert out["registration_scan_1.jpg"]["duplicate_of"] == "id-registration_scan_2.jpg"


def test_a_page_of_another_session_is_rejected() -> None:
    out, summary = check(
        "registration_plain.jpg", "answer_1bit.png", "registration_other_session.jpg"
    )
    other = out["registration_other_session.jpg"]
    assert (other["status"], other["reasons"]) == ("rejected", ["not_in_session"])
    assert other["code"] == truth()["registration_other_session.jpg"]["code"]  # still identified
    assert out["registration_plain.jpg"]["status"] == "accepted"
    assert summary.reasons == {"not_in_session": 1}


def test_without_the_session_codes_no_page_is_foreign() -> None:
    out, _ = check("registration_plain.jpg", "registration_other_session.jpg", codes=SessionCodes())
    assert all("not_in_session" not in r["reasons"] for r in out.values())


def test_a_page_without_its_registration_blank_is_an_orphan() -> None:
    out, summary = check("answer_1bit.png", "answer_empty.jpg")
    for name in ("answer_1bit.png", "answer_empty.jpg"):
        assert (out[name]["status"], out[name]["reasons"]) == (
            "needs_verification",
            ["orphan_page"],
        )
    assert sorted(summary.orphans) == sorted(page_key(r) for r in out.values())
    # The missing pages of those works are listed: their registration blanks and back sides.
    work = truth()["answer_1bit.png"]["code"]
    assert {f"registration-1:{work}", f"answer-2:{work}"} <= set(summary.missing)


def test_with_its_registration_blank_the_page_is_no_orphan_and_the_sheet_count_agrees() -> None:
    names = ("registration_plain.jpg", "answer_1bit.png")
    assert truth()[names[0]]["code"] == truth()[names[1]]["code"]
    out, summary = check(*names)
    assert [r["status"] for r in out.values()] == ["accepted", "accepted"]
    assert summary.orphans == []
    sheets = out["registration_plain.jpg"]["fields"]["answer_blanks"]
    assert (sheets["value"], sheets["received"], sheets["status"]) == ("01", 1, "accepted")
    assert summary.works == 1
    assert summary.missing == [f"answer-2:{truth()[names[1]]['code']}"]


def test_the_classifier_learns_from_the_batch_written_work_codes() -> None:
    _, summary = check("answer_1bit.png", "registration_plain.jpg")
    assert summary.adaptation_cells == 12  # the twelve digits of the code written on the blank


def test_an_unreadable_file_stays_rejected_and_every_status_is_from_the_vocabulary() -> None:
    _, model = engines()
    broken = rejected(
        {"source_file": "broken.tif", "frame": 0, "page_id": "x-0"}, "unreadable_file"
    )
    pages = [*by_name(*sorted(truth())), (broken, {})]
    records, summary = check_batch(pages, model, session())
    assert records[-1]["status"] == "rejected"
    assert records[-1]["reasons"] == ["unreadable_file"]
    assert records[-1]["reasons_ru"] == [REASONS["unreadable_file"][1]]
    for record in records:
        assert record["status"] in STATUSES
        assert record["reasons_ru"] == [REASONS[r][1] for r in record["reasons"]]
        statuses = {REASONS[r][0] for r in record["reasons"]}
        worst = (
            "rejected"
            if "rejected" in statuses
            else "needs_verification"
            if statuses
            else "accepted"
        )
        assert record["status"] == worst
    assert sum(summary.statuses.values()) == len(pages) == summary.pages
    # Several samples show the same page (one per effect): all but the first are duplicates.
    keys = [s["page_key"] for s in truth().values() if s["code"] in session().codes]
    assert summary.reasons["duplicate_page"] == len(keys) - len(set(keys)) >= 4
    assert summary.reasons["not_in_session"] == 1


# --- sheet counts and work codes decided on drawn cells -----------------------------------------
# A classifier whose examples are ten one-hot vectors, nine of each digit: a cell whose
# features are a digit's vector reads as that digit with probability 1, a cell of zeros is
# undecided (its neighbours' votes split).

WORK, OTHER, EXTRA = "421711408919", "421715968533", "421719616082"
SCHOOL = "4201001"
CODES = SessionCodes(
    {WORK: ("kit", SCHOOL), OTHER: ("kit", SCHOOL), EXTRA: ("additional", SCHOOL)}, ("201",)
)


@dataclass(frozen=True)
class _Sample:
    features: np.ndarray
    tesseract: int | None = None


def _model() -> DigitModel:
    eye = np.eye(10, dtype=np.float32)
    return DigitModel(np.repeat(eye, 9, axis=0), np.repeat(np.arange(10), 9))


def _cells(written: str) -> DigitCells:
    """Per character: a digit read surely, « » no ink, «?» a cell with ink and no clear
    digit, «~» a faint cell (no ink kept, but a broken thin stroke: not surely empty)."""
    samples: list[_Sample | None] = []
    for ch in written:
        if ch in " ~":
            samples.append(None)
        elif ch == "?":
            samples.append(_Sample(np.full(10, 0.5, np.float32)))
        else:
            samples.append(_Sample(np.eye(10, dtype=np.float32)[int(ch)]))
    faint = tuple(i for i, ch in enumerate(written) if ch == "~")
    return DigitCells(tuple(samples), False, faint)


def _page(
    blank: str, code: str, page: int, **cells: str
) -> tuple[dict[str, Any], dict[str, DigitCells]]:
    record = {
        "source_file": f"{blank}-{page}-{code}.jpg",
        "frame": 0,
        "page_id": f"id-{blank}-{page}-{code}",
        "blank_type": blank,
        "code": code,
        "page": page,
        "work_code": None if blank == "additional" else code,
        "status": "accepted",
        "reasons": [],
        "marks": {},
        "fields": {},
        "blank": False,
    }
    return record, {name: _cells(value) for name, value in cells.items()}


def _work(
    count: str, *extra: tuple[dict[str, Any], dict[str, DigitCells]]
) -> dict[str, dict[str, Any]]:
    pages = [
        _page("registration", WORK, 1, topic_number="201", answer_blanks=count),
        _page("answer", WORK, 1, work_code=WORK),
        _page("answer", WORK, 2),
        *extra,
    ]
    records, _ = check_batch(pages, _model(), CODES)
    return {r["page_id"]: r for r in records}


def _additional(written: str) -> list[tuple[dict[str, Any], dict[str, DigitCells]]]:
    return [
        _page("additional", EXTRA, 1, work_code=written, sheet_number="02"),
        _page("additional", EXTRA, 2),
    ]


REGISTRATION = f"id-registration-1-{WORK}"


def test_a_count_that_agrees_with_the_sheets_received_is_accepted() -> None:
    out = _work("02", *_additional(WORK))
    record = out[REGISTRATION]
    assert record["status"] == "accepted", record["reasons"]
    assert record["fields"]["answer_blanks"]["received"] == 2


def test_an_empty_count_is_not_accepted_when_the_work_has_additional_blanks() -> None:
    out = _work("  ", *_additional(WORK))
    record = out[REGISTRATION]
    assert record["status"] == "needs_verification"
    assert record["reasons"] == ["sheet_count_empty"]
    assert record["fields"]["answer_blanks"]["reason"] == "sheet_count_empty"
    assert "не заполнено" in record["reasons_ru"][0]


def test_an_empty_count_of_a_work_of_one_sheet_is_still_accepted() -> None:
    record = _work("  ")[REGISTRATION]
    assert record["status"] == "accepted"
    assert record["fields"]["answer_blanks"]["value"] == ""


@pytest.mark.parametrize("count", ["~ ", " ~", "~~"])
def test_a_faint_count_of_a_work_of_one_sheet_goes_to_verification_not_accepted_empty(
    count: str,
) -> None:
    record = _work(count)[REGISTRATION]
    reading = record["fields"]["answer_blanks"]
    assert reading["received"] == 1
    assert record["status"] == "needs_verification"
    assert record["reasons"] == ["digits_uncertain"]
    assert reading["status"] == "needs_verification"
    assert reading["value"] == ""
    assert [c == "?" for c in reading["cells"]] == [c == "~" for c in count]


def test_a_faint_count_of_a_work_with_additional_blanks_goes_to_verification() -> None:
    record = _work(" ~", *_additional(WORK))[REGISTRATION]
    assert record["status"] == "needs_verification"
    assert record["fields"]["answer_blanks"]["status"] == "needs_verification"


def test_a_count_beside_a_faint_cell_is_not_accepted() -> None:
    record = _work("1~")[REGISTRATION]
    assert record["status"] == "needs_verification"
    assert record["fields"]["answer_blanks"]["cells"] == ["1", "?"]


def test_a_count_above_the_sheets_received_blames_the_unread_additional_blank_not_the_count() -> (
    None
):
    out = _work("02", *_additional("????????????"))
    record = out[REGISTRATION]
    assert record["reasons"] == ["sheet_count_unattributed"]
    assert record["fields"]["answer_blanks"]["reason"] == "sheet_count_unattributed"
    assert "sheet_count_mismatch" not in record["reasons"]
    assert out[f"id-additional-1-{EXTRA}"]["status"] == "needs_verification"


def test_a_count_that_no_sheet_explains_is_a_sheet_count_mismatch() -> None:
    out = _work("03", *_additional(WORK))
    assert out[REGISTRATION]["reasons"] == ["sheet_count_mismatch"]


def test_a_written_work_code_with_a_digit_unread_is_incomplete_not_another_code() -> None:
    missing_one = WORK[:5] + " " + WORK[6:]
    record = check_batch([_page("answer", WORK, 1, work_code=missing_one)], _model(), CODES)[0][0]
    assert "work_code_incomplete" in record["reasons"]
    assert "work_code_mismatch" not in record["reasons"]
    assert "не полностью" in record["reasons_ru"][record["reasons"].index("work_code_incomplete")]


def test_a_work_code_read_surely_as_another_code_is_a_mismatch() -> None:
    other = WORK[:5] + str((int(WORK[5]) + 1) % 10) + WORK[6:]
    record = check_batch([_page("answer", WORK, 1, work_code=other)], _model(), CODES)[0][0]
    assert "work_code_mismatch" in record["reasons"]
    assert "work_code_incomplete" not in record["reasons"]


def test_an_additional_blanks_code_with_a_digit_unread_is_incomplete_not_unknown() -> None:
    missing_one = WORK[:3] + " " + WORK[4:]
    out = _work("02", *_additional(missing_one))
    front = out[f"id-additional-1-{EXTRA}"]
    assert "work_code_incomplete" in front["reasons"]
    assert "work_code_unknown" not in front["reasons"]
