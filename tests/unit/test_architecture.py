"""Architecture rules that a reviewer would otherwise have to remember."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOMAIN = ROOT / "tasks" / "domain"
# Libraries that orchestrate or do I/O; none may be loaded, even indirectly, by the domain.
IO_LIBRARIES = (
    "prefect",
    "sqlalchemy",
    "alembic",
    "paramiko",
    "great_expectations",
    "duckdb",
    "psycopg",
    "requests",
    "httpx",
    "pytesseract",
    "tesserocr",
    "zxingcpp",
)
# OpenCV is the recognition algorithms' array library (ARCHITECTURE.md: the domain holds them),
# so the domain may import it, but never call its file, camera or window functions.
CV2_IO = frozenset(
    {
        "imread",
        "imreadmulti",
        "imwrite",
        "imwritemulti",
        "imdecode",
        "imdecodemulti",
        "imencode",
        "imencodemulti",
        "imcount",
        "haveImageReader",
        "VideoCapture",
        "VideoWriter",
        "imshow",
        "namedWindow",
        "waitKey",
    }
)
# Standard-library I/O a domain module must not import itself (numpy may load them inside).
FORBIDDEN = (*IO_LIBRARIES, "smtplib", "socket", "subprocess", "urllib", "os")
DOMAIN_MODULES = sorted(p for p in DOMAIN.glob("*.py"))


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("module", DOMAIN_MODULES, ids=lambda p: p.name)
def test_domain_module_imports_no_orchestration_or_io_library(module: Path) -> None:
    bad = {name for name in _imports(module) if name.split(".")[0] in FORBIDDEN}
    assert not bad, f"{module.name} imports {sorted(bad)}"


def _cv2_io_calls(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "cv2"
        and node.attr in CV2_IO
    }


@pytest.mark.parametrize("module", DOMAIN_MODULES, ids=lambda p: p.name)
def test_domain_module_uses_no_opencv_input_or_output(module: Path) -> None:
    assert not _cv2_io_calls(module), f"{module.name} calls cv2.{sorted(_cv2_io_calls(module))}"


def test_the_opencv_check_catches_a_file_read(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import cv2\nimage = cv2.imread('x.png')\nsmall = cv2.resize(image, None)\n")
    assert _cv2_io_calls(bad) == {"imread"}


@pytest.mark.parametrize("module", DOMAIN_MODULES, ids=lambda p: p.name)
def test_domain_module_imports_only_domain_and_errors_from_the_project(module: Path) -> None:
    own = {
        name
        for name in _imports(module)
        if name.split(".")[0] in {"tasks", "flows", "config", "web"}
    }
    bad = {name for name in own if not (name.startswith("tasks.domain") or name == "tasks.errors")}
    assert not bad, f"{module.name} imports {sorted(bad)}"


def test_importing_the_whole_domain_loads_no_forbidden_library_transitively() -> None:
    modules = [f"tasks.domain.{p.stem}" for p in DOMAIN_MODULES if p.stem != "__init__"]
    code = (
        "import sys\n"
        + "".join(f"import {name}\n" for name in modules)
        + f"print(sorted(m for m in sys.modules if m.split('.')[0] in {IO_LIBRARIES!r}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


def test_the_purity_check_catches_a_forbidden_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import prefect\nfrom sqlalchemy.orm import Session\nimport json\n")
    assert {"prefect", "sqlalchemy.orm"} <= _imports(bad)
    assert {n for n in _imports(bad) if n.split(".")[0] in FORBIDDEN} == {
        "prefect",
        "sqlalchemy.orm",
    }
