"""Plausible wrong answers to each graded exercise; the tests must catch every one."""
