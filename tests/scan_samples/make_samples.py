"""Regenerate the committed scan samples (tests/scan_samples/README.md): run by hand.

    .venv/bin/python tests/scan_samples/make_samples.py [--work /tmp/scan_samples]

Builds two print folders (the session under test, and another one whose codes the session
never issued), runs the exam-day simulator over them with one effect pushed at a time, picks
one page per case and copies its image here with `truth.json` (what each sample tests, the
simulator's ground truth for it, what recognition must say) and `session.json` (the codes
and topics the session issued, for `SessionCodes` without a database).
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))

from tests.print_dir_support import SESSION, SchoolSpec, build_print_dir  # noqa: E402

TOPICS = ("101", "102", "201")
SEED = 3
SCHOOL, OTHER_SCHOOL = "4201001", "4201002"
# Effects that would spoil a case's one point unless the case asks for them.
QUIET = shlex.split(
    "--binarize 0 --turned 0 --duplicates 0 --unreadable 0 --missing 0 --rotation 0.5 "
    "--dpi 200 --formats jpeg=1 --jpeg-quality 60-70"
)
RUNS: dict[str, tuple[str, list[str]]] = {
    "plain": ("session", []),
    "rotated": ("session", ["--rotation", "4"]),
    "turned": ("session", ["--turned", "1"]),
    "low_dpi": ("session", ["--dpi", "150"]),
    "binary": ("session", ["--binarize", "1", "--formats", "png=1"]),
    "torn": ("session", ["--unreadable", "1"]),
    "duplicates": ("session", ["--duplicates", "1"]),
    "other": ("other", []),
    # The scanner's halftone mode (every scanner dithers: 1-bit, stored as PNG), with stains.
    "dithered": ("session", ["--dither", "1", "--stains", "2", "--formats", "png=1"]),
}
MARK_STATES = {"cross": "marked", "tick": "marked", "fill": "cancelled"}

Image = dict[str, Any]


def simulate(work: Path, name: str, seed: int) -> dict[str, Any]:
    print_name, extra = RUNS[name]
    out = work / "runs" / f"{name}-{seed}"
    if not (out / "exam_day" / SESSION / "ground_truth.json").exists():
        args = [
            "simulate",
            "exam",
            "--print-dir",
            str(work / print_name / SESSION),
            "--out",
            str(out),
            "--seed",
            str(seed),
            "--preset",
            "moderate",
            "--absent",
            "0",
            "--pdf-batches",
            "0",
            "--workers",
            "2",
            "--topics",
            ",".join(TOPICS),
            *QUIET,
            *extra,
        ]
        subprocess.run(
            [sys.executable, "-m", "flows.cli", *args], cwd=ROOT, check=True, capture_output=True
        )
    truth = json.loads((out / "exam_day" / SESSION / "ground_truth.json").read_text("utf-8"))
    truth["_root"] = out / "exam_day" / SESSION
    return truth


def first(truth: dict[str, Any], test: Callable[[Image], bool]) -> Image | None:
    for image in sorted(truth["images"], key=lambda i: (i["file"], i["frame"])):
        if test(image):
            return image
    return None


def present_registration(truth: dict[str, Any]) -> Callable[[Image], bool]:
    kits = {w["work_code"] for w in truth["works"] if w["room"] is not None}
    return lambda i: i["blank_type"] == "registration" and i["code"] in kits


def torn_away_from_qr(truth: dict[str, Any]) -> Callable[[Image], bool]:
    registration = present_registration(truth)
    return lambda i: registration(i) and i["effects"]["unreadable"] in ("torn-bl", "torn-br")


def expected_of(truth: dict[str, Any], image: Image) -> dict[str, Any]:
    page = next(p for p in truth["pages"] if p["page_key"] == image["page_key"])
    hand = page["handwritten"]
    fields = {name: d["value"] for name, d in hand.get("digits", {}).items()}
    return {
        "fields": fields,
        "marks": {b: MARK_STATES[k] for b, k in hand.get("marks", {}).items()},
    }


def sample(
    truth: dict[str, Any], image: Image, file: str, covers: str, page: dict[str, Any], **more: Any
) -> dict[str, Any]:
    return {
        "file": file,
        "covers": covers,
        "source": {"run_seed": truth["seed"], "file": image["file"], "frame": image["frame"]},
        "blank_type": image["blank_type"],
        "code": image["code"],
        "page": image["page"],
        "page_key": image["page_key"],
        "duplicate": image["duplicate"],
        "size_px": image["size_px"],
        "effects": image["effects"],
        "mm_to_px": image["mm_to_px"],
        "handwritten": expected_of(truth, image),
        "expected_page": page,
        "markers": 4,
        **more,
    }


def copy(truth: dict[str, Any], image: Image, name: str) -> str:
    source = truth["_root"] / image["file"]
    assert image["frame"] == 0, "single-image formats only"
    target = f"{name}{source.suffix.lower()}"
    if source.suffix.lower() == ".png":
        # The scanner's 1-bit image, stored as a 1-bit PNG (a tenth of the size).
        from PIL import Image as Pil

        with Pil.open(source) as picture:
            picture.convert("L").point(lambda v: 255 if v >= 128 else 0).convert("1").save(
                HERE / target, optimize=True
            )
    else:
        shutil.copyfile(source, HERE / target)
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--work", type=Path, default=Path("/tmp/scan_samples"))
    work = parser.parse_args().work
    for name, school, seed in (("session", SCHOOL, 1), ("other", OTHER_SCHOOL, 7)):
        folder = work / name / SESSION
        if not (folder / "manifest.json").exists():
            folder.mkdir(parents=True, exist_ok=True)
            spec = SchoolSpec(school, {"01": 2}, reserve=1, additional_per_room=1)
            build_print_dir(folder, [spec], seed=seed)
    manifest = json.loads((work / "session" / SESSION / "manifest.json").read_text("utf-8"))
    for old in HERE.glob("*.*"):
        if old.suffix in (".jpg", ".png"):
            old.unlink()

    # What `read_page` must say of the sample alone (a list: any of these statuses).
    accepted = {"status": "accepted", "reasons": []}
    samples: list[dict[str, Any]] = []
    plain = simulate(work, "plain", SEED)
    image = first(plain, present_registration(plain))
    samples.append(
        sample(
            plain,
            image,
            copy(plain, image, "registration_plain"),
            "ordinary registration blank: marks and digits",
            accepted,
        )
    )
    reserve = {w["work_code"] for w in plain["works"] if w["kind"] == "reserve"}
    image = first(
        plain, lambda i: i["blank_type"] == "answer" and i["page"] == 1 and i["code"] in reserve
    )
    samples.append(
        sample(
            plain,
            image,
            copy(plain, image, "answer_empty"),
            "empty answer blank (reserve kit)",
            accepted,
            blank=True,
        )
    )

    rotated = simulate(work, "rotated", SEED)
    reg = present_registration(rotated)
    image = first(rotated, lambda i: reg(i) and abs(i["effects"]["rotation_deg"]) >= 2.5)
    samples.append(
        sample(
            rotated,
            image,
            copy(rotated, image, "registration_rotated"),
            "rotation by a few degrees",
            accepted,
        )
    )

    turned = simulate(work, "turned", SEED)
    image = first(turned, present_registration(turned))
    samples.append(
        sample(
            turned, image, copy(turned, image, "registration_turned"), "page turned 180°", accepted
        )
    )

    low = simulate(work, "low_dpi", SEED)
    image = first(low, present_registration(low))
    samples.append(sample(low, image, copy(low, image, "registration_150dpi"), "150 dpi", accepted))

    binary = simulate(work, "binary", SEED)
    kits = {w["work_code"] for w in binary["works"] if w["room"] is not None}
    image = first(
        binary, lambda i: i["blank_type"] == "answer" and i["page"] == 1 and i["code"] in kits
    )
    samples.append(
        sample(
            binary,
            image,
            copy(binary, image, "answer_1bit"),
            "1-bit scan (answer blank with text and a written work code)",
            accepted,
        )
    )

    # A torn corner away from the QR (top right): one of the bottom markers is gone.
    for seed in range(SEED, SEED + 20):
        torn = simulate(work, "torn", seed)
        image = first(torn, torn_away_from_qr(torn))
        if image is not None:
            break
    samples.append(
        sample(
            torn,
            image,
            copy(torn, image, "registration_torn"),
            "torn page, one marker missing",
            accepted,
            markers=3,
        )
    )

    doubled = simulate(work, "duplicates", SEED)
    reg = present_registration(doubled)
    image = first(doubled, lambda i: reg(i) and i["duplicate"])
    original = first(doubled, lambda i: i["page_key"] == image["page_key"] and not i["duplicate"])
    for which, name in ((original, "registration_scan_1"), (image, "registration_scan_2")):
        samples.append(
            sample(
                doubled, which, copy(doubled, which, name), "the same page scanned twice", accepted
            )
        )

    other = simulate(work, "other", SEED)
    image = first(other, present_registration(other))
    samples.append(
        sample(
            other,
            image,
            copy(other, image, "registration_other_session"),
            "a page of another session",
            # read as any page; the batch checks reject it
            {"status": ["accepted", "needs_verification"]},
        )
    )

    dithered = simulate(work, "dithered", SEED)
    reg = present_registration(dithered)
    image = first(dithered, lambda i: reg(i) and bool(i["effects"]["stains"]))
    samples.append(
        sample(
            dithered,
            image,
            copy(dithered, image, "registration_dithered"),
            "dithered (halftone) 1-bit scan with stains",
            accepted,
        )
    )

    codes = {w["work_code"]: [w["kind"], w["school_code"]] for w in manifest["works"]}
    codes |= {a["code"]: ["additional", a["school_code"]] for a in manifest["additional"]}
    (HERE / "session.json").write_text(
        json.dumps(
            {"session": SESSION, "topics": list(TOPICS), "codes": codes},
            ensure_ascii=False,
            indent=1,
        )
        + "\n",
        "utf-8",
    )
    (HERE / "truth.json").write_text(
        json.dumps({"session": SESSION, "samples": samples}, ensure_ascii=False, indent=1) + "\n",
        "utf-8",
    )
    total = sum((HERE / s["file"]).stat().st_size for s in samples)
    print(f"{len(samples)} samples, {total / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
