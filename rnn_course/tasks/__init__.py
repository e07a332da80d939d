"""The course's tasks, each with a known chance level; see ``rnn_course.tasks.base`` for what a task is.

- memory tasks (``memory``): ``AddingProblem``, ``CopyMemory``, ``DelayedEcho``, ``SequentialXOR``,
  ``TemporalOrder``, ``FirstSign``;
- a classification that needs no long memory unless delayed (``classify``): ``TrendSineWalk``;
- variable-length sequences (``lengths``): ``LastToken``, ``ParityOfSum``;
- an endless stream for truncated backpropagation through time (``reber``): ``ContinualReber``;
- state tracking (``state``): ``ParityStream``.
"""
from rnn_course.tasks.base import IGNORE, Task
from rnn_course.tasks.classify import TrendSineWalk
from rnn_course.tasks.lengths import LastToken, ParityOfSum
from rnn_course.tasks.memory import (AddingProblem, CopyMemory, DelayedEcho, FirstSign, SequentialXOR,
                                     TemporalOrder)
from rnn_course.tasks.reber import ContinualReber
from rnn_course.tasks.state import ParityStream

TASKS = {cls.name: cls for cls in (AddingProblem, CopyMemory, DelayedEcho, SequentialXOR, TemporalOrder, FirstSign,
                                   TrendSineWalk, LastToken, ParityOfSum, ContinualReber, ParityStream)}

__all__ = ["IGNORE", "Task", "TASKS", "AddingProblem", "CopyMemory", "DelayedEcho", "SequentialXOR", "TemporalOrder",
           "FirstSign", "TrendSineWalk", "LastToken", "ParityOfSum", "ContinualReber", "ParityStream"]
