"""genai_course: the tested implementations the course notebooks import.

Submodules are imported on demand (``from genai_course import ngram``) so that
``import genai_course`` stays fast.
"""

__version__ = "0.1.0"
