"""A wall-clock stopwatch (``z5py.util.Timer``)."""

from __future__ import annotations

import time

__all__ = [
    "Timer",
]


class Timer:
    """Wall-clock stopwatch.

    Use ``start()``/``stop()`` or a ``with`` block; ``elapsed`` gives seconds (while the
    timer runs, the time so far).  ``stop()`` returns the elapsed seconds.

    >>> with Timer() as t:
    ...     pass
    >>> t.elapsed >= 0
    True
    """

    def __init__(self) -> None:
        self._start: float | None = None
        self._stop: float | None = None

    def start(self) -> Timer:
        """Start (or restart) the timer and return it."""
        self._start = time.perf_counter()
        self._stop = None
        return self

    def stop(self) -> float:
        """Stop the timer and return the elapsed seconds.

        Raises:
            RuntimeError: if the timer was never started.
        """
        if self._start is None:
            raise RuntimeError("Timer.stop() called before Timer.start()")
        self._stop = time.perf_counter()
        return self.elapsed

    @property
    def running(self) -> bool:
        """True between ``start()`` and ``stop()``."""
        return self._start is not None and self._stop is None

    @property
    def elapsed(self) -> float:
        """Seconds between start and stop (or now, while running).

        Raises:
            RuntimeError: if the timer was never started.
        """
        if self._start is None:
            raise RuntimeError("Timer has not been started")
        end = self._stop if self._stop is not None else time.perf_counter()
        return end - self._start

    def __enter__(self) -> Timer:  # noqa: PYI034 - Timer is not meant to be subclassed
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        if self._start is None:
            return "Timer(not started)"
        state = "running" if self.running else "stopped"
        return f"Timer({state}, elapsed={self.elapsed:.3f}s)"
