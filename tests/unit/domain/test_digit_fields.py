"""Deciding a digit field (tasks/domain/digit_fields.py) on made-up cell probabilities: a free
reading is accepted only when every cell is sure; a candidate is taken on weaker support but
never against a cell that confidently reads another digit, and never when another candidate
comes close; a shorter candidate may sit left, right or zero-padded; an empty field is empty."""

from __future__ import annotations

import numpy as np
import pytest

from tasks.domain.digit_fields import ACCEPT, CONTRADICT, SUPPORT, decide_field, digits_value


def cell(digit: int, p: float, second: int | None = None, q: float = 0.0) -> np.ndarray:
    """Ten probabilities: `p` on `digit`, `q` on `second`, the rest spread evenly."""
    row = np.zeros(10)
    row[digit] = p
    if second is not None:
        row[second] = q
    rest = [d for d in range(10) if d not in (digit, second)]
    row[rest] = (1.0 - p - q) / len(rest)
    return row


def test_a_free_reading_with_every_cell_sure_is_accepted() -> None:
    reading = decide_field([cell(1, 0.95), cell(0, 0.9), cell(2, 0.85)])
    assert (reading.value, reading.cells, reading.accepted) == ("102", ("1", "0", "2"), True)
    assert reading.confidence == pytest.approx(0.85)
    assert (reading.matched, reading.reason) == (None, None)


def test_a_free_reading_with_one_unsure_cell_goes_to_verification() -> None:
    reading = decide_field([cell(1, 0.95), cell(7, ACCEPT - 0.1, 1, 0.2), cell(2, 0.9)])
    assert not reading.accepted
    assert reading.reason == "digits_uncertain"
    assert reading.cells == ("1", "?", "2")
    assert reading.value == "172"  # the best digits kept for the operator
    assert reading.confidence == pytest.approx(ACCEPT - 0.1)
    assert reading.as_dict()["status"] == "needs_verification"


def test_a_candidate_is_taken_on_weak_but_consistent_support() -> None:
    # Two weak cells (a free reading would not accept them); the last tells 102 from 101.
    probs = [cell(1, 0.5), cell(0, 0.45), cell(2, 0.95)]
    assert not decide_field(probs).accepted
    reading = decide_field(probs, ("101", "102", "201"))
    assert (reading.value, reading.matched, reading.accepted) == ("102", "102", True)
    assert reading.confidence == pytest.approx(0.45)
    assert reading.as_dict()["matched"] == "102"


def test_a_candidate_contradicted_by_a_confident_cell_is_not_taken() -> None:
    # The participant wrote 107, which is not a topic: never read as the nearest topic.
    probs = [cell(1, 0.95), cell(0, 0.95), cell(7, CONTRADICT + 0.1, 1, 0.05)]
    reading = decide_field(probs, ("101",))
    assert not reading.accepted
    assert reading.reason == "not_a_candidate"
    assert reading.value == "107"
    assert reading.matched is None


def test_a_candidate_without_support_in_one_cell_goes_to_verification() -> None:
    probs = [cell(1, 0.95), cell(3, CONTRADICT - 0.2, 0, SUPPORT - 0.1), cell(1, 0.95)]
    reading = decide_field(probs, ("101",))
    assert (reading.accepted, reading.reason) == (False, "digits_uncertain")


def test_two_candidates_the_cells_cannot_tell_apart_go_to_verification() -> None:
    probs = [cell(1, 0.95), cell(0, 0.95), cell(1, 0.5, 2, 0.45)]
    reading = decide_field(probs, ("101", "102"))
    assert (reading.accepted, reading.reason) == (False, "digits_uncertain")
    assert decide_field(probs, ("101",)).accepted  # alone, 101 would do


def test_a_value_of_another_length_than_every_candidate_is_not_a_candidate() -> None:
    reading = decide_field([cell(1, 0.95), cell(2, 0.95), cell(3, 0.95)], ("12", "1234"))
    assert (reading.accepted, reading.reason, reading.value) == (False, "not_a_candidate", "123")


@pytest.mark.parametrize(
    ("probs", "cells"),
    [
        ([cell(1, 0.6), None], ("1", "")),  # written in the left cell
        ([None, cell(1, 0.6)], ("", "1")),  # in the right cell
        ([cell(0, 0.6), cell(1, 0.6)], ("0", "1")),  # zero-padded
    ],
    ids=["left", "right", "zero-padded"],
)
def test_a_shorter_candidate_fits_left_right_or_zero_padded(
    probs: list[np.ndarray | None], cells: tuple[str, ...]
) -> None:
    reading = decide_field(probs, ("1",))
    assert reading.accepted
    assert reading.matched == "1"
    assert reading.cells == cells
    assert reading.value == digits_value(cells)


def test_a_shorter_candidate_does_not_fit_ink_in_the_wrong_shape() -> None:
    # «1» in the left cell and something in the right: not «1», not «01».
    reading = decide_field([cell(1, 0.95), cell(7, 0.95)], ("1",))
    assert (reading.accepted, reading.reason) == (False, "not_a_candidate")


@pytest.mark.parametrize("candidates", [None, ("101", "102")])
def test_an_empty_field_is_empty_and_accepted(candidates: tuple[str, ...] | None) -> None:
    reading = decide_field([None, None, None], candidates)
    assert (reading.value, reading.cells, reading.accepted) == ("", ("", "", ""), True)
    assert reading.matched is None
    assert reading.as_dict() == {
        "value": "",
        "cells": ["", "", ""],
        "confidence": 1.0,
        "status": "accepted",
    }
