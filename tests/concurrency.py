"""Two transactions at once, in threads with their own database connections: for the tests
that show one change waiting for another instead of slipping past it."""

from __future__ import annotations

import threading
from collections.abc import Callable

from django.db import connection, transaction


def waits_for(hold: Callable[[], object], wait: Callable[[], object]) -> None:
    """Run ``hold`` in a transaction in one thread, and once it is done (its locks taken,
    nothing committed), ``wait`` in another: ``wait`` must still be blocked half a second
    later. Then ``hold``'s transaction commits and both threads finish. The outcome of
    ``wait`` is for the caller to record and check."""
    held, release = threading.Event(), threading.Event()

    def holder() -> None:
        try:
            with transaction.atomic():
                hold()
                held.set()
                release.wait(10)
        finally:
            connection.close()

    def waiter() -> None:
        try:
            wait()
        finally:
            connection.close()

    first = threading.Thread(target=holder)
    first.start()
    assert held.wait(10), "the holding transaction did not get there"
    second = threading.Thread(target=waiter)
    second.start()
    second.join(0.5)
    blocked = second.is_alive()
    release.set()
    first.join(10)
    second.join(10)
    assert blocked, "the second change did not wait for the first"
