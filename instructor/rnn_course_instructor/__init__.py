"""Instructors' tools of the course "Recurrent Networks in PyTorch".

Kept apart from the course package (``rnn_course``, which learners install, in Colab too) because it holds the
answers: the exercises' master notebooks and reference solutions (``charlm``), ``assign`` (student and
solutions notebooks from a master) and the grader (``grading``), which runs every submission in a sandbox that
sees ``rnn_course`` but never this package.
"""
