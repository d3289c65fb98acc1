"""A blank whose QR cannot be read is identified by the code printed under it, and sent to
verification for it; never without its markers and orientation bar, never a code with a wrong
check digit."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from tasks.adapters.digits import font_model
from tasks.adapters.recognition_engines import Engines
from tasks.domain import recognition as rec
from tasks.domain.blanks import BlankType, layout_for
from tasks.domain.page_reading import PageContext, read_page

SAMPLES = Path(__file__).resolve().parents[2] / "scan_samples"


@pytest.fixture(scope="module")
def engines() -> Engines:
    return Engines(font=font_model())


def _without_qr(name: str) -> tuple[np.ndarray, dict[str, object]]:
    image = cv2.imread(str(SAMPLES / name), cv2.IMREAD_GRAYSCALE)
    located = rec.locate(image)
    assert not isinstance(located, str)
    x, y, w, h = rec.qr_region(located, margin_mm=1.0)
    painted = image.copy()
    painted[y : y + h, x : x + w] = 255
    return painted, {"source_file": name, "frame": 0, "page_id": name}


@pytest.mark.parametrize(
    ("name", "blank_type", "page"),
    [
        ("registration_plain.jpg", "registration", 1),
        ("registration_turned.jpg", "registration", 1),
        ("answer_1bit.png", "answer", 1),
        ("answer_empty.jpg", "answer", 1),
    ],
)
def test_a_blank_without_its_qr_is_identified_by_its_printed_code(
    engines: Engines, name: str, blank_type: str, page: int
) -> None:
    image = cv2.imread(str(SAMPLES / name), cv2.IMREAD_GRAYSCALE)
    with_qr, _ = read_page(image, engines, font_model(), PageContext(), {})
    painted, source = _without_qr(name)
    record, _ = read_page(painted, engines, font_model(), PageContext(), source)
    assert record["reasons"] == ["identified_by_print"]
    assert record["status"] == "needs_verification"
    assert (record["blank_type"], record["page"]) == (blank_type, page)
    assert record["code"] == with_qr["code"]
    assert record["alignment"]["error_mm"] is None


def test_the_back_of_an_answer_blank_is_told_from_its_front(engines: Engines) -> None:
    painted, source = _without_qr("answer_empty.jpg")
    located = rec.locate(painted)
    assert not isinstance(located, str)
    # the front's work-code cells blanked out too: what is left is the layout of the back
    front = layout_for(BlankType.ANSWER, 1).field("work_code").box
    x0, y0 = located.point(front.x - 1, front.y - 1)
    x1, y1 = located.point(front.x + front.w + 1, front.y + front.h + 1)
    painted[int(min(y0, y1)) : int(max(y0, y1)), int(min(x0, x1)) : int(max(x0, x1))] = 255
    record, _ = read_page(painted, engines, font_model(), PageContext(), source)
    assert (record["blank_type"], record["page"]) == ("answer", 2)


def test_without_the_orientation_bar_or_with_a_torn_marker_it_stays_rejected(
    engines: Engines,
) -> None:
    for name in ("registration_plain.jpg", "registration_torn.jpg"):
        painted, source = _without_qr(name)
        located = rec.locate(painted)
        assert not isinstance(located, str)
        if located.markers == 4:  # paint the orientation bar out as well
            bar = layout_for(BlankType.REGISTRATION, 1).field("orientation").box
            x, y = located.point(bar.x - 1, bar.y - 1)
            painted[int(y) : int(y) + 60, int(x) : int(x) + 40] = 255
        record, _ = read_page(painted, engines, font_model(), PageContext(), source)
        assert record["status"] == "rejected"
        assert record["reasons"] == ["qr_unreadable"]


def test_a_printed_code_with_a_wrong_check_digit_is_not_taken(engines: Engines) -> None:
    class Misread(Engines):
        def printed_digits(self, image: np.ndarray) -> str:
            return "4217 1140 8918"  # the last digit off by one: the Damm check fails

    painted, source = _without_qr("registration_plain.jpg")
    record, _ = read_page(painted, Misread(font=font_model()), font_model(), PageContext(), source)
    assert record["reasons"] == ["qr_unreadable"]
