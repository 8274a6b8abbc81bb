"""Measuring generated content: distances between sample sets, the judge networks (the digit
classifier) whose features and verdicts the metrics use, and chapter 8's metrics built from
their definitions: text (``text_metrics``, ``perplexity``), images (``image_metrics``), code
(``code_eval``), benchmarks (``multiple_choice`` over the ``language_models`` interface) and
pairwise preferences (``preference``).

Used in: chapters 2, 4, 8, 9, 10.
"""
