"""Scoring recognition records against the simulator's ground truth."""

from __future__ import annotations

import copy
from typing import Any

from tasks.domain.scan_accuracy import expected_mark, field_correct, score

KIT = "421710393170"
OTHER = "421715929212"
EXTRA = "421719480310"


def _image(file: str, blank: str, code: str, page: int, **extra: Any) -> dict[str, Any]:
    return {
        "file": f"scans/4201000/{file}",
        "frame": 0,
        "blank_type": blank,
        "code": code,
        "page": page,
        "page_key": f"{blank}-{page}:{code}",
        "duplicate": extra.pop("duplicate", False),
        "effects": {"unreadable": extra.pop("unreadable", None)},
    }


def _truth() -> dict[str, Any]:
    return {
        "images": [
            _image("a.jpg", "registration", KIT, 1),
            _image("b.jpg", "answer", KIT, 1),
            _image("c.jpg", "additional", EXTRA, 1),
            _image("d.jpg", "answer", OTHER, 1, unreadable="black"),
            _image("e.jpg", "answer", KIT, 1, duplicate=True),
        ],
        "pages": [
            {
                "page_key": f"registration-1:{KIT}",
                "handwritten": {
                    "digits": {
                        "topic_number": {"value": "102", "cells": ["1", "0", "2"]},
                        "answer_blanks": {"value": "1", "cells": ["", "1"]},
                    },
                    "marks": {"k1_pass": "cross", "k2_fail": "tick", "k3_pass": "fill"},
                },
            },
            {
                "page_key": f"answer-1:{KIT}",
                "handwritten": {"digits": {"work_code": {"value": KIT}}, "marks": {}},
            },
            {
                "page_key": f"additional-1:{EXTRA}",
                "handwritten": {
                    "digits": {"work_code": {"value": KIT}, "sheet_number": {"value": "2"}},
                    "marks": {},
                },
            },
        ],
        "additional": [{"code": EXTRA, "used_by": KIT}],
    }


def _field(value: str, confidence: float = 1.0, accepted: bool = True) -> dict[str, Any]:
    status = "accepted" if accepted else "needs_verification"
    return {"value": value, "confidence": confidence, "status": status}


def _mark(state: str) -> dict[str, Any]:
    return {"state": state, "ink": 0.1, "confidence": 1.0}


def _records() -> list[dict[str, Any]]:
    """Records that read every page right."""
    return [
        {
            "source_file": "4201000/a.jpg",
            "frame": 0,
            "blank_type": "registration",
            "code": KIT,
            "page": 1,
            "work_code": KIT,
            "status": "accepted",
            "reasons": [],
            "marks": {
                "k1_pass": _mark("marked"),
                "k1_fail": _mark("empty"),
                "k2_fail": _mark("marked"),
                "k3_pass": _mark("cancelled"),
            },
            "fields": {"topic_number": _field("102"), "answer_blanks": _field("01")},
        },
        {
            "source_file": "4201000/b.jpg",
            "frame": 0,
            "blank_type": "answer",
            "code": KIT,
            "page": 1,
            "work_code": KIT,
            "status": "accepted",
            "reasons": [],
            "marks": {},
            "fields": {"work_code": _field(KIT, 0.7)},
        },
        {
            "source_file": "4201000/c.jpg",
            "frame": 0,
            "blank_type": "additional",
            "code": EXTRA,
            "page": 1,
            "work_code": KIT,
            "status": "needs_verification",
            "reasons": ["digits_uncertain"],
            "marks": {},
            "fields": {"work_code": _field(KIT, 0.5, accepted=False), "sheet_number": _field("02")},
        },
        {
            "source_file": "4201000/d.jpg",
            "frame": 0,
            "status": "rejected",
            "reasons": ["no_contrast"],
        },
        {
            "source_file": "4201000/e.jpg",
            "frame": 0,
            "blank_type": "answer",
            "code": KIT,
            "page": 1,
            "work_code": KIT,
            "status": "rejected",
            "reasons": ["duplicate_page"],
        },
    ]


def test_records_that_read_everything_right_score_perfectly() -> None:
    result = score(_records(), _truth())

    assert result["pages"]["total"] == 5
    assert result["pages"]["statuses"] == {"accepted": 2, "needs_verification": 1, "rejected": 2}
    assert result["pages"]["misattributed"] == 0
    assert result["pages"]["wrong_blank_identity"] == 0
    marks = result["marks"]
    assert (marks["boxes"], marks["right"], marks["wrong"], marks["right_share"]) == (4, 4, 0, 1.0)
    assert marks["confusions"] == {}
    fields = result["digit_fields"]
    assert (fields["fields"], fields["accepted"], fields["accepted_wrong"]) == (5, 4, 0)
    assert fields["verification_share"] == 0.2
    assert result["missing_records"] == 0
    assert result["rejected"]["truly_unreadable"] == 1
    assert result["rejected"]["duplicates"] == 1
    assert result["rejected"]["readable_rejected"] == 0


def test_a_page_given_to_another_work_is_counted_as_misattributed() -> None:
    records = _records()
    records[1]["work_code"] = OTHER

    pages = score(records, _truth())["pages"]

    assert pages["misattributed"] == 1
    assert pages["misattributed_examples"][0]["true_work"] == KIT


def test_an_additional_blank_is_attributed_by_the_work_that_used_it() -> None:
    records = _records()
    records[2]["work_code"] = OTHER

    assert score(records, _truth())["pages"]["misattributed"] == 1


def test_a_rejected_page_or_one_without_a_work_is_not_misattributed() -> None:
    records = _records()
    records[4]["work_code"] = OTHER
    records[2]["work_code"] = None

    assert score(records, _truth())["pages"]["misattributed"] == 0


def test_a_record_naming_another_blank_is_counted() -> None:
    records = _records()
    records[1]["page"] = 2

    assert score(records, _truth())["pages"]["wrong_blank_identity"] == 1


def test_a_box_read_wrong_on_an_accepted_page_is_counted_with_its_confusion() -> None:
    records = _records()
    records[0]["marks"]["k3_pass"] = _mark("marked")

    marks = score(records, _truth())["marks"]

    assert (marks["boxes"], marks["wrong"]) == (4, 1)
    assert marks["confusions"] == {"cancelled->marked": 1}
    assert marks["examples"][0]["box"] == "k3_pass"


def test_boxes_of_pages_not_accepted_are_not_scored() -> None:
    records = _records()
    records[0]["status"] = "needs_verification"

    assert score(records, _truth())["marks"]["boxes"] == 0


def test_a_wrong_accepted_field_lowers_the_right_share() -> None:
    records = _records()
    records[0]["fields"]["topic_number"] = _field("101")

    fields = score(records, _truth())["digit_fields"]

    assert fields["accepted_wrong"] == 1
    assert fields["accepted_wrong_on_accepted_pages"] == 1
    assert fields["right_share"] == 0.75
    assert fields["by_field"]["topic_number"]["accepted_wrong"] == 1


def test_a_wrong_field_on_a_page_sent_to_verification_is_told_apart() -> None:
    records = _records()
    records[2]["fields"]["sheet_number"] = _field("03")

    fields = score(records, _truth())["digit_fields"]

    assert (fields["accepted_wrong"], fields["accepted_wrong_on_accepted_pages"]) == (1, 0)


def test_counts_compare_as_integers_and_codes_as_text() -> None:
    assert field_correct("answer_blanks", "01", "1")
    assert field_correct("sheet_number", "02", "2")
    assert not field_correct("work_code", "0421", "421")
    assert not field_correct("answer_blanks", "", "1")


def test_what_the_simulator_drew_maps_to_the_state_to_read() -> None:
    assert [expected_mark(d) for d in ("cross", "tick", "fill", None)] == [
        "marked",
        "marked",
        "cancelled",
        "empty",
    ]


def test_a_readable_page_rejected_is_told_apart_from_unreadable_and_duplicates() -> None:
    records = _records()
    records[1] = {**records[1], "status": "rejected", "reasons": ["markers_not_found"]}

    rejected = score(records, _truth())["rejected"]

    assert rejected["readable_rejected"] == 1
    assert rejected["by_reason"] == {"duplicate_page": 1, "markers_not_found": 1, "no_contrast": 1}


def test_an_unused_additional_blank_rejected_is_not_a_readable_page_lost() -> None:
    truth = _truth()
    truth["images"].append(_image("f.jpg", "additional", "421719000001", 1))
    truth["additional"].append({"code": "421719000001", "used_by": None})
    records = [
        *_records(),
        {
            "source_file": "4201000/f.jpg",
            "frame": 0,
            "blank_type": "additional",
            "code": "421719000001",
            "page": 1,
            "work_code": None,
            "status": "rejected",
            "reasons": ["unused_blank"],
        },
    ]

    rejected = score(records, truth)["rejected"]

    assert (rejected["unused_additional"], rejected["readable_rejected"]) == (1, 0)


def test_an_image_without_a_record_is_missing() -> None:
    assert score(_records()[:-1], _truth())["missing_records"] == 1


def test_the_operating_curve_trades_errors_for_verification() -> None:
    records = _records()
    records[1]["fields"]["work_code"] = _field(OTHER, 0.7)  # wrong, fairly sure

    curve = score(copy.deepcopy(records), _truth(), thresholds=(0.0, 0.8))["operating_curve"]

    assert curve["current"]["accepted_wrong"] == 1
    loose, strict = curve["confidence_only"]
    assert (loose["accepted"], loose["accepted_wrong"], loose["verification_share"]) == (5, 1, 0.0)
    assert (strict["accepted"], strict["accepted_wrong"], strict["error"]) == (3, 0, 0.0)
    assert strict["verification_share"] == 0.4
    both = curve["current_and_confidence"][1]
    assert (both["accepted"], both["accepted_wrong"]) == (3, 0)
