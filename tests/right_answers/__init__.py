"""Alternative correct answers to each graded exercise (another idiom, another equivalent
formula); every one must earn full points. Keyed like ``tests/wrong_answers``."""
