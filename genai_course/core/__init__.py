"""Foundations every model shares: input checks, layers, the one training loop ``fit``,
and the model contract (``protocols``).

Used in: every chapter.
"""
