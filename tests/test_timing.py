"""rnn_course.timing: the median of the timed runs, after untimed warm-up runs, on a clock we control."""
import pytest

from rnn_course import timing


class FakeClock:
    """perf_counter() that advances by the duration of the run in progress."""

    def __init__(self, durations):
        self.durations, self.now, self.runs = list(durations), 0.0, 0

    def perf_counter(self):
        return self.now

    def work(self):
        self.runs += 1
        self.now += self.durations.pop(0)


def test_median_of_the_timed_runs_after_warmup(monkeypatch):
    clock = FakeClock([9.0, 9.0, 5.0, 1.0, 2.0, 100.0, 1.5])  # two slow warm-ups, then a one-off hiccup
    monkeypatch.setattr(timing.time, "perf_counter", clock.perf_counter)
    assert timing.median_seconds(clock.work, repeats=5, warmup=2) == 2.0
    assert clock.runs == 7


def test_waits_for_the_gpu_around_every_timed_run(monkeypatch):
    synced = []
    monkeypatch.setattr(timing.torch.cuda, "synchronize", lambda device=None: synced.append(device))
    timing.median_seconds(lambda: None, repeats=3, warmup=1, device="cuda")
    assert len(synced) == 6
    timing.median_seconds(lambda: None, repeats=3, warmup=1, device="cpu")
    assert len(synced) == 6


@pytest.mark.parametrize("kwargs, message", [({"fn": 3}, "fn must be callable"), ({"repeats": 0}, "repeats"),
                                             ({"warmup": -1}, "warmup")])
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        timing.median_seconds(**{"fn": lambda: None, **kwargs})
