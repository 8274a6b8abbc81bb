"""Measuring generated content: distances between sample sets, and the judge networks
(the digit classifier) whose features and verdicts the metrics use.

Used in: chapters 2, 4, 8, 9, 10.
"""
