"""The feedback page a student reads, offline: nbconvert's HTML export with the course's
template (``templates/course_feedback``) and the maths rendered when the page is written.

nbconvert leaves ``$...$`` in the page for MathJax, which its templates load from a CDN:
offline a student sees raw TeX. Here each formula is converted to MathML (TeX to
Presentation MathML with latex2mathml), which browsers draw themselves (MathML Core:
Chromium 109+, Firefox, Safari), and the page loads no script at all. A formula the converter
cannot read is shown as its TeX source in ``<code>``; a picture on the web is named by its alt
text instead of loaded. Raw HTML in a student's own written
answer is shown as text, never rendered, so an answer cannot put a script into the page.

The page itself (template ``course_feedback``) lists the exercises by name with their scores,
marks written answers that await a person as "awaiting grading", and wraps long lines
(verdicts, tracebacks) instead of running them off the page; the numbers come from
:class:`genai_course.course.nbgrader_plugins.FeedbackSummary`.

Used in: the feedback of every chapter (``genai-course feedback``, or nbgrader's
``generate_feedback`` with the course's ``nbgrader_config.py``).
"""

from __future__ import annotations

import copy
import html
import re
from pathlib import Path
from typing import Any

from jinja2 import pass_context
from nbconvert.exporters import HTMLExporter
from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath
from traitlets.config import Config

#: The folder holding the course's nbconvert templates, and the feedback template's name.
TEMPLATES = Path(__file__).resolve().parent / "templates"
TEMPLATE_NAME = "course_feedback"


def tex_to_mathml(tex: str, display: bool = False) -> str:
    """MathML for the TeX formula ``tex`` (display style when ``display``), or the escaped
    source in ``<code class="tex">`` when the converter cannot read it."""
    from latex2mathml.converter import convert  # the instructor extra; see FeedbackExporter

    try:
        mathml = convert(tex.strip(), display="block" if display else "inline")
    except Exception:  # the converter raises many types; the page must still be written
        return f'<code class="tex">{html.escape(tex)}</code>'
    return mathml


class OfflineRenderer(IPythonRenderer):
    """nbconvert's Markdown renderer for a page read offline: MathML in place of TeX left for
    MathJax, and a picture on the web (a Colab badge) named by its alt text, not loaded."""

    def image(self, text: str, url: str, title: str | None = None) -> str:
        if re.match(r"[a-z]+://", url.strip(), re.I):
            return f'<span class="remote-image">{html.escape(text or "image")}</span>'
        return super().image(text, url, title)

    def inline_math(self, body: str) -> str:
        return tex_to_mathml(body)

    def block_math(self, body: str) -> str:
        return tex_to_mathml(body, display=True)

    def latex_environment(self, name: str, body: str) -> str:
        return tex_to_mathml(f"\\begin{{{name}}}{body}\\end{{{name}}}", display=True)


class FeedbackExporter(HTMLExporter):
    """The HTML exporter of the feedback step (``GenerateFeedback.exporter_class``): the
    course's template, MathML maths, no scripts."""

    def __init__(self, config: Config | None = None, **kwargs: Any) -> None:
        try:
            import latex2mathml  # noqa: F401
        except ImportError:
            raise ImportError("writing feedback needs latex2mathml, which the instructor extra "
                              "installs: pip install 'genai-course[instructor]'") from None
        # nbgrader configures HTMLExporter (and so this subclass) for its own template, whose
        # maths and scripts come from CDNs; this class's own section takes precedence
        config = copy.deepcopy(config) if config is not None else Config()
        config.FeedbackExporter.template_name = TEMPLATE_NAME
        config.FeedbackExporter.extra_template_basedirs = [str(TEMPLATES)]
        super().__init__(config=config, **kwargs)

    @pass_context
    def markdown2html(self, context: Any, source: str) -> str:
        cell = context.get("cell", {})
        written_by_student = bool(cell.get("metadata", {}).get("nbgrader", {}).get("solution"))
        renderer = OfflineRenderer(
            escape=written_by_student,  # a student's raw HTML is shown as text
            attachments=cell.get("attachments", {}),
            embed_images=self.embed_images,
            path=context.get("resources", {}).get("metadata", {}).get("path", ""),
            anchor_link_text=self.anchor_link_text,
            exclude_anchor_links=self.exclude_anchor_links,
            **getattr(self, "lexer_options", {}),  # where nbconvert has them
        )
        return MarkdownWithMath(renderer=renderer).render(source)
