"""Exercise "Character-level language models for a phone keyboard": its master notebook and its grading.

``MASTER`` is the master notebook (shipped with the package); ``rnn-course assign`` makes the student and
solutions notebooks from it. ``questions`` grades submissions against the reference in
``rnn_course_instructor.charlm``; the self-checks the notebook runs are ``rnn_course.exercises.charlm``.
"""
from pathlib import Path

MASTER = Path(__file__).with_name("master.ipynb")
