"""Exercises of the course: the public self-checks each exercise notebook runs (its master notebook, reference
solution and grading are in the instructors' package, ``rnn_course_instructor.exercises``)."""
