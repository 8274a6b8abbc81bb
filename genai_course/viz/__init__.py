"""Figures and interactive widgets for the notebooks.

Used in: every chapter.
"""
