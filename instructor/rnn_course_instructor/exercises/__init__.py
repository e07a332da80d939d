"""Exercises of the course: each a package holding its master notebook (package data) and its grading questions.

Their public self-checks, which learners run in the notebook, are in ``rnn_course.exercises``.
"""
