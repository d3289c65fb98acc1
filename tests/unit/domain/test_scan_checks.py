"""The batch's cross-checks (tasks/domain/scan_checks.py) on the committed scan samples: the second
scan of a page is rejected and points at the first, a page of another session is rejected, a
work's page without its registration blank is sent to verification as an orphan, the sheet
count is checked against the pages received, and every status and reason stays within the
fixed vocabulary (an unreadable file's record stays rejected)."""

from __future__ import annotations

from tasks.domain.page_reading import REASONS, STATUSES, rejected
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
