"""The shipped checkpoints. Each chapter adds its entry here (see ``genai_course.pretrained``)."""

from __future__ import annotations
