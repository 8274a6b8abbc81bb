"""nbgrader configuration for this course (see README, "For instructors").

Run nbgrader (or ``genai-course``) from the repository root: ``solutions/`` is the
instructor source, ``chapters/`` the generated student release.
"""

import os

from genai_course.course import conventions

c = get_config()  # noqa: F821 (injected by traitlets when it loads this file)

HERE = os.path.dirname(os.path.abspath(__file__))

c.CourseDirectory.course_id = conventions.COURSE_ID
c.CourseDirectory.root = HERE
c.CourseDirectory.source_directory = conventions.SOURCE_DIR
c.CourseDirectory.release_directory = conventions.RELEASE_DIR

# The exchange (nbgrader release_assignment / fetch / submit / collect) lives inside the
# course by default; on a shared JupyterHub point this at a directory every user can read.
c.Exchange.root = os.path.join(HERE, "exchange")

# Every cell must finish within this many seconds when nbgrader validates or autogrades.
# Notebooks run their small "grading" configuration then (NBGRADER_EXECUTION is set).
c.Execute.timeout = 120

c.ClearSolutions.code_stub = {"python": conventions.CODE_STUB}
c.ClearSolutions.text_stub = conventions.TEXT_STUB

# Trustworthy autograding (genai_course/course/nbgrader_plugins.py): a submission is graded
# as the release with only the student's answers put in, each answer runs in a separate
# sandbox process, and the tests, in the grading kernel, only ever see plain data coming
# back. Feedback replaces hidden tests with a one-line verdict, keeps tracebacks to the
# notebook's own lines, and is written with the course's template (feedback_page.py): the
# exercises by name with their scores, "awaiting grading" for unmarked written answers, and
# maths as MathML, so the page needs no network.
from nbconvert.preprocessors import ClearMetadataPreprocessor, CSSHTMLHeaderPreprocessor  # noqa: E402
from nbgrader.preprocessors import (  # noqa: E402
    AssignLatePenalties,
    CheckCellMetadata,
    ClearOutput,
    DeduplicateIds,
    GetGrades,
    IgnorePattern,
    LimitOutput,
    OverwriteCells,
    OverwriteKernelspec,
    SaveAutoGrades,
)

from genai_course.course.feedback_page import FeedbackExporter  # noqa: E402
from genai_course.course.nbgrader_plugins import (  # noqa: E402
    FeedbackSummary,
    ReadableFeedback,
    RebuildFromRelease,
    SandboxedExecute,
    SummarizeHiddenTests,
)

c.Autograde.sanitize_preprocessors = [
    RebuildFromRelease, ClearOutput, DeduplicateIds, OverwriteKernelspec, OverwriteCells,
    CheckCellMetadata,
]
c.Autograde.autograde_preprocessors = [
    SandboxedExecute, IgnorePattern, ClearMetadataPreprocessor, LimitOutput, SaveAutoGrades,
    AssignLatePenalties, CheckCellMetadata,
]
c.GenerateFeedback.preprocessors = [
    GetGrades, FeedbackSummary, SummarizeHiddenTests, ReadableFeedback, CSSHTMLHeaderPreprocessor,
]
c.GenerateFeedback.exporter_class = FeedbackExporter
