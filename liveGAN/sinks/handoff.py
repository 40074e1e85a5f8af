"""Handing frames from the show's thread to a sink's own thread, newest wins.

Place in the data flow: shared readback -> **handoff** -> a sender thread (NDI, virtual camera,
texture sharing). The show's thread only copies the pixels into a free buffer; when the sender
is still busy with an older frame, the frame waiting for it is replaced, never queued, so a
slow receiver costs frames at the receiver, not time in the show. Two buffers circulate (one
being sent, one being filled), so nothing is allocated per frame.
"""
from __future__ import annotations

import threading

import numpy as np


class LatestFrame:
    """A one-frame mailbox between the show's thread and a sender thread."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        self._free = [np.empty(shape, np.uint8) for _ in range(2)]
        self._waiting: tuple[np.ndarray, float] | None = None
        self._cond = threading.Condition()
        self._closed = False
        self.replaced = 0     # frames overwritten before the sender took them

    def put(self, pixels: np.ndarray, time: float) -> None:
        """Copy `pixels` in as the newest frame (the show's thread)."""
        with self._cond:
            if self._waiting is not None:   # not sent yet and already old: reuse its buffer
                buffer, _ = self._waiting
                self._waiting = None
                self.replaced += 1
            else:                           # the sender holds at most the other one
                buffer = self._free.pop()
        np.copyto(buffer, pixels)
        with self._cond:
            self._waiting = (buffer, time)
            self._cond.notify()

    def take(self, timeout: float) -> tuple[np.ndarray, float] | None:
        """The newest frame and its show time, waiting up to `timeout` seconds (None if none
        came, or the mailbox is closed). Hand the buffer back with `done` after sending it."""
        with self._cond:
            if self._waiting is None and not self._closed:
                self._cond.wait(timeout)
            job, self._waiting = self._waiting, None
            return job

    def done(self, buffer: np.ndarray) -> None:
        with self._cond:
            self._free.append(buffer)

    def close(self) -> None:
        """Wake the sender for the last time."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        return self._closed
