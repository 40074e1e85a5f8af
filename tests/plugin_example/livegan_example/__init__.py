"""A separate package with one liveGAN source and one sink, written only against the documented
plugin protocol (it imports nothing from liveGAN but the Param class its source publishes)."""
from __future__ import annotations

import json
import threading

from liveGAN.params import Param


class StepSource:
    """Publishes `step/level`: 0 until the show has presented `after` frames, then 1.

    It reads the show's frame count from the optional `connect(link)` snapshot, so the step
    falls at the same point of the show however long the show took to start."""

    def __init__(self, options: dict) -> None:
        self.after = int(options.pop("after", 30))
        if options:
            raise ValueError(f"unknown options {sorted(options)}")
        self._stop = threading.Event()
        self._thread = None
        self._link = None

    def params(self) -> list:
        return [Param("step", "level", "float", 0.0, 0.0, 1.0, 0.0, "0, then 1", readonly=True)]

    def connect(self, link) -> None:
        self._link = link

    def start(self, post) -> None:
        def run() -> None:
            while not self._stop.wait(0.005):
                frame = self._link.snapshot().frame if self._link is not None else 0
                post("/step/level", 0.0 if frame < self.after else 1.0)

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2.0)


class ProbeSink:
    """Writes each frame's index, time and mean brightness to a JSON file at the end."""

    def __init__(self, options: dict) -> None:
        self.path = options.pop("path")
        self.rows: list = []
        self.size = None

    def open(self, size, fps) -> None:
        self.size = list(size)

    def send(self, frame) -> None:
        pixels = frame.pixels()
        self.rows.append([frame.index, frame.time, float(pixels.mean()), list(pixels.shape)])

    def close(self) -> None:
        with open(self.path, "w") as f:
            json.dump({"size": self.size, "rows": self.rows}, f)
