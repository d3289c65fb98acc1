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


def test_the_dithered_sample_is_read_whole_not_sent_to_verification() -> None:
    """test_recognition.py checks every sample against its ground truth (the page, markers,
    fields, marks); this one adds what the dithered page must also be: every field accepted."""
    record, _ = read(NAME)
    assert record["status"] == truth()[NAME]["expected_page"]["status"] == "accepted"
    assert all(r["status"] == "accepted" for r in record["fields"].values())
