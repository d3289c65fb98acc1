"""How every XLSX the project writes opens its workbook: text stays text.

xlsxwriter's `write()` turns a string starting with «=» into a live formula and one starting
with «http://» into a link. Values in the project's workbooks come from МОУО files (file names,
classes, documents) and must never run in the reader's Excel: every workbook is opened with
these options, whatever the cell is written with.
"""

from __future__ import annotations

from typing import Any

__all__ = ["TEXT_AS_TEXT", "workbook_options"]

TEXT_AS_TEXT: dict[str, bool] = {
    "strings_to_formulas": False,
    "strings_to_urls": False,
    "strings_to_numbers": False,
}


def workbook_options(**options: Any) -> dict[str, Any]:
    """`TEXT_AS_TEXT` with the workbook's own options (in_memory, constant_memory, ...)."""
    return {**options, **TEXT_AS_TEXT}
