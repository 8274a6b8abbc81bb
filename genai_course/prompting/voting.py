"""Self-consistency (Wang et al. 2023): sample several reasoning paths and take the answer
most of them reach. The vote is over *parsed* answers
(:func:`genai_course.data.tasks.parse_answer`), so two differently worded paths that end in
the same number agree.

Used in: chapter 6.
"""

from __future__ import annotations

from collections.abc import Sequence


def majority_vote(answers: Sequence[str | None]) -> str | None:
    """The most frequent answer, ignoring ``None`` (an unparsable reply); a tie goes to the
    tied answer that appears first; ``None`` when no answer parsed."""
    if not isinstance(answers, (list, tuple)):
        raise TypeError(f"answers must be a list or tuple, got {type(answers).__name__}")
    counts: dict[str, int] = {}
    for i, a in enumerate(answers):
        if a is not None and not isinstance(a, str):
            raise TypeError(f"answers[{i}] must be a str or None, got {type(a).__name__}")
        if a is not None:
            counts[a] = counts.get(a, 0) + 1
    # dicts keep insertion order, and max returns the first of equal counts
    return max(counts, key=counts.__getitem__) if counts else None
