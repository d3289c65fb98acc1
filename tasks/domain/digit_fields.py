"""Deciding a handwritten digit field from its cells' digit probabilities.

A field is a row of cells (work code: 12, topic number: 3, «Количество бланков записи»: 2,
sheet number: 2). Each inked cell comes with ten probabilities from the digit reader; an
empty cell holds no digit. Two ways to decide:

- against candidates, when the field can only hold one of a few known values (the topic
  numbers of the session, the work code printed in the QR of the same blank, the codes of the
  school's works for an additional blank): the best candidate is taken only when every one of
  its digits has the reader's support (`SUPPORT`), no cell reads confidently as another digit,
  and no other candidate comes close. A value written that is not a candidate (a participant's
  slip) therefore goes to verification, never to the nearest candidate;
- freely, when nothing is known: each cell's most probable digit, accepted only when every
  cell is at least `ACCEPT` sure.

Either way the reading keeps the per-cell digits and the field's confidence (the weakest
cell's probability of the value taken).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

__all__ = ["ACCEPT", "SUPPORT", "DigitModel", "FieldReading", "decide_field", "digits_value"]

ACCEPT = 0.8  # free reading: every cell at least this sure
SUPPORT = 0.3  # candidate reading: each of the candidate's digits at least this probable
CONTRADICT = 0.75  # a cell this sure of another digit contradicts a candidate
MARGIN = 4.0  # log-likelihood lead of the best candidate over the next


K = 9  # neighbours asked
TESSERACT_WEIGHT = (
    1.0  # Tesseract's vote: one neighbour's worth (bench/scan.py: it reads ~80 % of cells)
)


class DigitModel:
    """k nearest neighbours over cell features (tasks/adapters/digits.py makes them), with
    Tesseract's reading of the cell as extra votes: ten probabilities per cell."""

    def __init__(self, features: np.ndarray, labels: np.ndarray) -> None:
        self.features = np.asarray(features, np.float32)
        self.labels = np.asarray(labels, np.int32)
        self._knn = cv2.ml.KNearest_create()  # type: ignore[attr-defined]
        self._knn.train(self.features, cv2.ml.ROW_SAMPLE, self.labels)

    def adapted(self, features: np.ndarray, labels: np.ndarray, weight: int = 2) -> DigitModel:
        """This model with more examples (cells of this batch whose digits are known), each
        counted `weight` times."""
        if len(labels) == 0:
            return self
        extra_f = np.repeat(np.asarray(features, np.float32), weight, axis=0)
        extra_l = np.repeat(np.asarray(labels, np.int32), weight)
        return DigitModel(
            np.vstack([self.features, extra_f]), np.concatenate([self.labels, extra_l])
        )

    def probabilities(
        self, features: Sequence[np.ndarray], tesseract: Sequence[int | None]
    ) -> np.ndarray:
        if len(features) == 0:
            return np.zeros((0, 10))
        _, _, neighbours, _ = self._knn.findNearest(np.asarray(features, np.float32), K)
        votes = np.zeros((len(features), 10))
        for row, labels in enumerate(neighbours.astype(int)):
            np.add.at(votes[row], labels, 1.0)
        total = float(K)
        if any(t is not None for t in tesseract):
            for row, digit in enumerate(tesseract):
                if digit is not None:
                    votes[row, digit] += TESSERACT_WEIGHT
            total += TESSERACT_WEIGHT
        return votes / total


@dataclass(frozen=True, slots=True)
class FieldReading:
    value: str  # the digits as written, empty cells left out ("" when the field is empty)
    cells: tuple[str, ...]  # per cell: a digit, "" (no ink) or "?" (undecided)
    confidence: float  # 0..1, the weakest cell's support of `value`
    accepted: bool
    matched: str | None = None  # the candidate taken, when decided against candidates
    reason: str | None = None  # why not accepted (a reason code)

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "value": self.value,
            "cells": list(self.cells),
            "confidence": round(self.confidence, 3),
            "status": "accepted" if self.accepted else "needs_verification",
        }
        if self.matched is not None:
            out["matched"] = self.matched
        if self.reason:
            out["reason"] = self.reason
        return out


def digits_value(cells: Sequence[str]) -> str:
    return "".join(c for c in cells if c)


def _free(probs: Sequence[np.ndarray | None]) -> FieldReading:
    """Each cell's most probable digit; `cells` shows «?» where it is below `ACCEPT`."""
    best = ["" if row is None else str(int(np.argmax(row))) for row in probs]
    sure = [row is None or float(row.max()) >= ACCEPT for row in probs]
    weakest = min((float(row.max()) for row in probs if row is not None), default=1.0)
    accepted = all(sure)
    return FieldReading(
        digits_value(best),
        tuple(digit if ok else "?" for digit, ok in zip(best, sure, strict=True)),
        weakest,
        accepted,
        reason=None if accepted else "digits_uncertain",
    )


def _fits(candidate: str, probs: Sequence[np.ndarray | None]) -> list[str] | None:
    """The candidate laid over the cells: written left-aligned, right-aligned or zero-padded
    when it is shorter than the field (a count of «1» in either of two cells); the layout of
    inked cells must be that of the candidate's digits."""
    n = len(probs)
    inked = [row is not None for row in probs]
    shapes = []
    if len(candidate) == n:
        shapes.append(list(candidate))
    elif len(candidate) < n:
        pad = n - len(candidate)
        shapes += [list(candidate) + [""] * pad, [""] * pad + list(candidate)]
        shapes.append(list(candidate.zfill(n)))
    for shape in shapes:
        if [c != "" for c in shape] == inked:
            return shape
    return None


def decide_field(
    probs: Sequence[np.ndarray | None], candidates: Sequence[str] | None = None
) -> FieldReading:
    """The field's reading from its cells (`None`: no ink), against `candidates` if given."""
    free = _free(probs)
    if not candidates or free.value == "":
        return free
    scored: list[tuple[float, str, list[str]]] = []
    for candidate in candidates:
        shape = _fits(candidate, probs)
        if shape is None:
            continue
        score = 0.0
        for row, digit in zip(probs, shape, strict=True):
            if row is not None:
                score += math.log(float(row[int(digit)]) + 1e-3)
        scored.append((score, candidate, shape))
    if not scored:
        return FieldReading(
            free.value, free.cells, free.confidence, False, reason="not_a_candidate"
        )
    scored.sort(key=lambda s: -s[0])
    score, candidate, shape = scored[0]
    support = min(
        float(row[int(d)]) for row, d in zip(probs, shape, strict=True) if row is not None
    )
    contradicted = any(
        row is not None and int(np.argmax(row)) != int(d) and float(row.max()) >= CONTRADICT
        for row, d in zip(probs, shape, strict=True)
    )
    close = len(scored) > 1 and score - scored[1][0] < MARGIN
    if len(scored) > 1 and not close:
        # Where the runner-up differs in only a cell or two (topics 201 and 301), those cells
        # decide alone: each must be read as surely as a free reading would need.
        deciding = [
            float(row[int(mine)])
            for row, mine, other in zip(probs, shape, scored[1][2], strict=True)
            if row is not None and mine and mine != other
        ]
        close = len(deciding) < 3 and min(deciding, default=1.0) < ACCEPT
    if support < SUPPORT or contradicted or close:
        return FieldReading(
            free.value,
            free.cells,
            free.confidence,
            False,
            reason="not_a_candidate" if contradicted else "digits_uncertain",
        )
    return FieldReading(digits_value(shape), tuple(shape), support, True, matched=candidate)
