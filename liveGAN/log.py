"""The show's messages to the performer: one line per kind of problem per second, never a storm.

Place in the data flow: every part that reports bad input (sources, the show, sinks, the reload
thread) -> **log** -> the terminal. A flood of bad input must not become a flood of lines that
itself slows the show, and no single message may fill a screen: each kind of problem prints at
most once per `interval`, the next line says how many were held back, and every line is cut to
`MAX_LINE` characters (a multi-line report keeps at most `MAX_LINES` lines). The first message
of a kind always prints; repeats of all kinds together print at most once per `interval`, so a
stream of mixed garbage (unknown addresses, wrong types, broken datagrams) costs one line a
second, each kind in its turn with its count.
"""
from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from typing import Callable

MAX_LINE = 300
MAX_LINES = 40


def clip(message: str, max_line: int = MAX_LINE, max_lines: int = MAX_LINES) -> str:
    """`message` with each line cut to `max_line` characters and at most `max_lines` lines."""
    lines = str(message).splitlines() or [""]
    extra = len(lines) - max_lines
    if extra > 0:
        lines = lines[:max_lines - 1] + [f"... and {extra + 1} more lines"]
    return "\n".join(line if len(line) <= max_line else line[:max_line - 3] + "..."
                     for line in lines)


class RateLimitedLog:
    """`log(kind, message)`: prints the first message of each kind, then at most one per
    `interval` seconds with a count of the repeats held back. Safe from any thread."""

    def __init__(self, interval: float = 1.0, sink: Callable[[str], None] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self.sink = sink or (lambda msg: print(msg, flush=True))
        self.clock = clock
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}
        self._last_repeat = float("-inf")  # when any kind last printed a repeat
        self._waiting: list[str] = []      # kinds with a repeat due, in the order they came
        self._lock = threading.Lock()
        self.lines = 0

    def __call__(self, kind: str, message: str) -> None:
        now = self.clock()
        with self._lock:
            last = self._last.get(kind)
            if last is not None and not self._repeat_now(kind, last, now):
                self._suppressed[kind] = self._suppressed.get(kind, 0) + 1
                return
            if len(self._last) > 4096:
                # Kinds are a small fixed set; a runaway caller inventing kinds must not grow
                # this table for ever.
                self._last.clear()
            self._last[kind] = now
            repeats = self._suppressed.pop(kind, 0)
            self.lines += 1
        suffix = f" (and {repeats} more like it)" if repeats else ""
        self.sink(clip(message) + suffix)

    def _repeat_now(self, kind: str, last: float, now: float) -> bool:
        """Whether a repeat of `kind` prints now: its own interval passed, the shared slot is
        free, and no kind that has waited longer holds it (for one interval)."""
        if now - last < self.interval:
            return False
        free = now - self._last_repeat >= self.interval
        first_in_line = not self._waiting or self._waiting[0] == kind \
            or now - self._last_repeat >= 2 * self.interval
        if not (free and first_in_line):
            if kind not in self._waiting:
                self._waiting.append(kind)
            return False
        if kind in self._waiting:
            self._waiting.remove(kind)
        elif self._waiting and self._waiting[0] != kind:
            self._waiting.pop(0)  # its turn passed unused
        self._last_repeat = now
        return True

    def say(self, message: str) -> None:
        """An ordinary one-off message (start-up, a reload), clipped like the others."""
        with self._lock:
            self.lines += 1
        self.sink(clip(message))


@contextlib.contextmanager
def quiet_stderr():
    """Silence C libraries that print to the process's stderr (libjack, ALSA) for a moment."""
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    try:
        with open(os.devnull, "w") as null:
            sys.stderr.flush()
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
