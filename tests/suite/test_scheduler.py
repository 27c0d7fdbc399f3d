"""Zero-config runs the beat schedule in-process."""

from __future__ import annotations

import datetime as dt
import time

from celery import shared_task

from suite.celery import app as celery_app
from suite.scheduler import InProcessScheduler

RUNS: list[int] = []


@shared_task(name="tests.scheduler_probe")
def scheduler_probe(value: int) -> None:
    RUNS.append(value)


def run_schedule(schedule: dict, *, until_runs: int, timeout: float = 5) -> None:
    """Run the in-process scheduler on ``schedule`` until ``RUNS`` has ``until_runs`` items."""
    previous = celery_app.conf.beat_schedule
    celery_app.conf.beat_schedule = schedule
    RUNS.clear()
    scheduler = InProcessScheduler(tick=0.05)
    try:
        scheduler.start()
        deadline = time.monotonic() + timeout
        while len(RUNS) < until_runs and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        scheduler.stop()
        celery_app.conf.beat_schedule = previous


def test_periodic_tasks_run_in_process():
    run_schedule(
        {"probe": {"task": "tests.scheduler_probe", "schedule": dt.timedelta(seconds=0.3), "args": (7,)}},
        until_runs=2,
    )
    assert RUNS[:2] == [7, 7]
    count = len(RUNS)
    time.sleep(0.5)
    assert len(RUNS) == count  # stopped means stopped


def test_a_failing_periodic_task_does_not_stop_the_scheduler():
    @shared_task(name="tests.scheduler_fails")
    def fails() -> None:
        raise RuntimeError("boom")

    run_schedule(
        {
            "fails": {"task": "tests.scheduler_fails", "schedule": dt.timedelta(seconds=0.2)},
            "probe": {"task": "tests.scheduler_probe", "schedule": dt.timedelta(seconds=0.2), "args": (1,)},
        },
        until_runs=2,
    )
    assert len(RUNS) >= 2
