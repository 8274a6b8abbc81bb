"""The README's chapter table, kept in step with the measured runtime table.

``genai_course/measured_runtimes.json`` is the one source of runtime claims: each notebook's
header reads it (``runtime.header(..., chapter=...)``) and the README's "CPU runtime (full /
quick)" column is written from it by :func:`with_runtimes` (``benchmarks/time_notebooks.py
--write`` measures and updates both; a test fails when the README disagrees).

Used in: the README (chapter table), ``benchmarks/time_notebooks.py``.
"""

from __future__ import annotations

import re

from genai_course.runtime import format_seconds

# a chapter row: | n | [title](chapters/NN_name/NN_name.ipynb) | 中文 | status | runtime | Colab |
ROW = re.compile(r"^(\|[^|\n]*\|\s*\[[^\]]*\]\(chapters/(?P<chapter>\d\d_[a-z0-9_]+)/[^)]*\)"
                 r"\s*\|[^|\n]*\|[^|\n]*\|)(?P<runtime>[^|\n]*)(\|.*)$", re.M)


def runtime_cell(row: dict[str, float]) -> str:
    """``"2.3 min / 29 s"`` for ``{"full_s": 138, "quick_s": 29}``."""
    return f"{format_seconds(row['full_s'])} / {format_seconds(row['quick_s'])}"


def runtimes_in(readme: str) -> dict[str, str]:
    """The runtime column of every chapter row that links its notebook."""
    return {m["chapter"]: m["runtime"].strip() for m in ROW.finditer(readme)}


def with_runtimes(readme: str, table: dict[str, dict[str, float]]) -> str:
    """``readme`` with each linked chapter's runtime cell written from ``table``."""
    def cell(m: re.Match[str]) -> str:
        row = table.get(m["chapter"])
        text = m["runtime"] if row is None else f" {runtime_cell(row)} "
        return f"{m.group(1)}{text}{m.group(4)}"

    return ROW.sub(cell, readme)
