"""A dithered scan made by the exam-day simulator (tests/scan_samples/registration_dithered.png:
a registration blank from a scanner in halftone mode, an ordered 8 × 8 screen, 1 bit, 200 dpi,
with coffee rings and a blotch on it): recognition tells it is dithered (by its lone dots: on
near-white paper the screen leaves too few dots for the roughness), descreens it, and reads
its digits and marks as the simulator's ground truth says."""

from __future__ import annotations

import numpy as np

from tasks.domain import recognition as rec
from tests.scan_samples_support import image, read, truth

NAME = "registration_dithered.png"


def test_the_sample_is_a_dithered_1_bit_registration_blank_with_stains() -> None:
    sample = truth()[NAME]
    effects = sample["effects"]
    assert sample["blank_type"] == "registration"
    assert effects["binarized"]
    assert effects["dither"] in ("error-diffusion", "ordered")
    assert effects["threshold"] is None
    assert effects["stains"]
    assert set(np.unique(image(NAME))) == {0, 255}
    assert sample["handwritten"]["marks"], "the sample must carry marks"


def test_recognition_tells_the_page_is_dithered_and_descreens_it() -> None:
    grey = image(NAME)
    # Dithered when rough (> 5 grey levels) or dotted (> 8 lone dots per thousand pixels),
    # which no other sample is.
    assert rec.roughness(grey) > 5 or rec.lone_dots(grey) > 8
    others = [n for n in truth() if n != NAME]
    assert max(rec.roughness(image(n)) for n in others) < 5
    assert max(rec.lone_dots(image(n)) for n in others) < 8
    located = rec.locate(grey)
    assert isinstance(located, rec.Located), located
    assert located.descreen_mm > 0


def test_the_dithered_sample_reads_as_its_ground_truth() -> None:
    sample = truth()[NAME]
    record, cells = read(NAME)
    expected = sample["expected_page"]
    assert record["status"] == expected["status"], record["reasons"]
    assert record["reasons"] == expected["reasons"]
    assert (record["blank_type"], record["code"], record["page"]) == (
        sample["blank_type"],
        sample["code"],
        sample["page"],
    )
    assert record["turned_180"] == sample["effects"]["turned_180"]
    assert record["alignment"]["markers"] == sample["markers"]
    assert record["alignment"]["error_mm"] < 0.5
    truth_fields = sample["handwritten"]["fields"]
    assert set(record["fields"]) == set(truth_fields) == set(cells)
    assert {f: r["value"] for f, r in record["fields"].items()} == truth_fields
    assert all(r["status"] == "accepted" for r in record["fields"].values())
    marks = {box: m["state"] for box, m in record["marks"].items()}
    assert marks == {box: sample["handwritten"]["marks"].get(box, "empty") for box in marks}
    assert set(sample["handwritten"]["marks"]) <= set(marks)
