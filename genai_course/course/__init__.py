"""The instructor's machinery: releasing chapters, grading a class (nbgrader plug-ins,
long-lived workers, the sandbox that runs student code), feedback, export, ``doctor`` and the
``genai-course`` command. Students never import from here.
"""
