"""The README's chapter -> modules table matches what each chapter's notebook imports."""

from __future__ import annotations

import ast
import importlib.util
import re

import nbformat

from genai_course.course import release as rel

from .conftest import ROOT

START, END = "<!-- chapter-modules:start -->", "<!-- chapter-modules:end -->"


def _is_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:  # the parent is a module, not a package
        return False


def chapter_modules(chapter: str) -> list[str]:
    """The ``genai_course`` modules a chapter's solution notebook imports (any code cell)."""
    nb = nbformat.read(ROOT / "solutions" / chapter / f"{chapter}.ipynb", as_version=4)
    found: set[str] = set()
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        source = "\n".join(line for line in cell.source.splitlines()
                           if not line.lstrip().startswith(("%", "!")))
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("genai_course"):
                for alias in node.names:  # `from package import module` names the module
                    sub = f"{node.module}.{alias.name}"
                    found.add(sub if _is_module(sub) else node.module)
            elif isinstance(node, ast.Import):
                found.update(a.name for a in node.names if a.name.startswith("genai_course"))
    short = sorted(m.removeprefix("genai_course.") for m in found)
    return [m for m in short if m not in ("grading",)]


def expected_table() -> str:
    lines = ["| chapter | imports from `genai_course` |", "|---|---|"]
    for chapter in rel.list_chapters(ROOT):
        mods = ", ".join(f"`{m}`" for m in chapter_modules(chapter))
        lines.append(f"| {chapter} | {mods} |")
    return "\n".join(lines)


def test_readme_chapter_modules_table_is_current():
    text = (ROOT / "README.md").read_text()
    match = re.search(re.escape(START) + r"\n(.*?)\n" + re.escape(END), text, re.S)
    assert match, f"README.md needs the table between {START} and {END}"
    assert match.group(1).strip() == expected_table(), (
        "README's chapter -> modules table is out of date; replace it with:\n" + expected_table())
