"""The instructors' commands of ``rnn-course``: ``assign`` and ``grade``.

- ``rnn-course assign``: the student and solutions notebooks from an exercise's master notebook;
- ``rnn-course grade SUBMISSIONS``: a folder of submitted notebooks -> a CSV of points per question, with a
  reason for every lost point (and, with ``--gradescope``, Gradescope ``results.json`` files).

``rnn_course.cli`` adds them to its parser when this package is installed.
"""
from __future__ import annotations

import sys


def _assign(args) -> int:
    from rnn_course_instructor import assign

    return assign.run(args)


def _grade(args) -> int:
    if args.jobs < 1:
        print("rnn-course grade: error: --jobs must be at least 1", file=sys.stderr)
        return 2
    try:
        from rnn_course_instructor.grading.batch import Stopped, grade_folder
    except ImportError as err:
        print(f"rnn-course grade: error: {err}; the grader needs jupyter_client and ipykernel "
              "(pip install jupyter_client ipykernel)", file=sys.stderr)
        return 2

    try:
        summary = grade_folder(args.submissions, args.exercise, args.out, jobs=args.jobs, regrade=args.regrade,
                               seed=args.seed, cell_timeout=args.cell_timeout, budget=args.budget,
                               memory_mb=args.memory_mb, gradescope=args.gradescope, unsealed=args.unsealed,
                               user=args.user)
    except ValueError as err:
        print(f"rnn-course grade: error: {err}", file=sys.stderr)
        return 2
    except Stopped:
        return 143
    except KeyboardInterrupt:
        return 130
    return 1 if any(r.status == "grader error" for r in summary.graded) else 0


def _rubric(args) -> int:
    from rnn_course_instructor.grading.spec import load_exercise

    try:
        exercise = load_exercise(args.exercise)
    except ValueError as err:
        print(f"rnn-course rubric: error: {err}", file=sys.stderr)
        return 2
    if not exercise.rubric:
        print(f"exercise {exercise.name!r} has no parts graded by a person")
        return 0
    print(exercise.rubric_text())
    return 0


def add_commands(sub) -> None:
    """Add ``assign``, ``grade``, ``rubric``, ``release`` and ``site`` to the sub-command parsers ``sub`` of ``rnn-course``."""
    from rnn_course_instructor import assign

    p = sub.add_parser("assign", help="master notebook -> student and solutions notebooks",
                       description="Make the student and solutions notebooks of an exercise from its master "
                                   "notebook (see rnn_course_instructor.assign for the markup).")
    assign.add_arguments(p)
    p.set_defaults(func=_assign)

    from rnn_course_instructor import release

    release.add_commands(sub)

    p = sub.add_parser("rubric", help="print the rubric of the parts a person grades",
                       description="Print, as Markdown, the rubric of an exercise's parts that a person grades: "
                                   "the grade CSV leaves one empty column per item (manual_<name>) for the "
                                   "points, and keeps them when a submission is graded again.")
    p.add_argument("--exercise", default="charlm", help="a built-in exercise (default: charlm) or a questions.py")
    p.set_defaults(func=_rubric)

    p = sub.add_parser("grade", help="grade a folder of submitted notebooks into a CSV",
                       description="Grade submitted notebooks: each runs in a kernel of its own, sealed in a "
                                   "bubblewrap sandbox as an unprivileged user; the questions are checked in the "
                                   "grader against the reference solution. See the instructors' page of the "
                                   "course for what the sandbox protects.")
    p.add_argument("submissions", help="a folder of submissions (one file each, or one folder per student), "
                                       "or one notebook")
    p.add_argument("--exercise", default="charlm",
                   help="a built-in exercise (default: charlm) or the path of a questions.py")
    p.add_argument("--out", default="grades.csv", help="the CSV to write (default: grades.csv); an existing "
                                                       "one is updated")
    p.add_argument("--jobs", "-j", type=int, default=1, help="submissions graded at the same time (default 1)")
    p.add_argument("--regrade", action="store_true", help="grade again the submissions the CSV already holds")
    p.add_argument("--seed", type=int, default=None, help="draw the same test inputs for every submission "
                                                          "(default: fresh random inputs for each)")
    p.add_argument("--cell-timeout", type=float, default=None, help="seconds per notebook cell "
                                                                    "(default: the exercise's)")
    p.add_argument("--budget", type=float, default=None, help="seconds per submission (default: the exercise's)")
    p.add_argument("--memory-mb", type=int, default=None, help="memory cap of each student kernel, MiB "
                                                               "(default: the exercise's)")
    p.add_argument("--gradescope", default=None, metavar="PATH",
                   help="also write Gradescope results: PATH.json for a single submission, or a folder that "
                        "gets SUBMISSION/results.json for each")
    p.add_argument("--unsealed", action="store_true",
                   help="grade without the sandbox where bubblewrap is missing (macOS, a container that forbids "
                        "namespaces): kernels then reach your files and each other; every row says so")
    p.add_argument("--user", type=int, default=None, metavar="UID",
                   help="run as root: the kernels' user ids are UID, UID+1, ... one per job (default 2000000000; "
                        "none of them needs to exist)")
    p.set_defaults(func=_grade)

