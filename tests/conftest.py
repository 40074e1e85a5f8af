"""Shared test set-up: headless SDL, small patches, an engine running on a thread."""
from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

import pytest

# A real pygame OpenGL window without a display server (through EGL), and no sound card.
os.environ.setdefault("SDL_VIDEODRIVER", "offscreen")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def wait_for(condition, timeout: float = 20.0, interval: float = 0.02) -> bool:
    """Poll `condition` until true or `timeout` seconds pass; returns its last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return bool(condition())


class ShowThread:
    """A Show playing on its own thread, as `livegan run` would, for tests that poke it."""

    def __init__(self, engine) -> None:
        self.engine = engine
        self.summary = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self.summary = self.engine.run()
        except BaseException as err:  # surfaced by stop()
            self.error = err

    def __enter__(self):
        self.thread.start()
        assert wait_for(lambda: getattr(self.engine, "clock", None) is not None
                        and self.engine.clock.frame > 2 or self.error is not None, 60)
        if self.error:
            raise self.error
        return self

    def frame(self) -> int:
        return self.engine.clock.frame

    def __exit__(self, *exc) -> None:
        self.engine.stop()
        self.thread.join(30)
        if self.error and not exc[0]:
            raise self.error


@pytest.fixture(autouse=True, scope="session")
def one_torch_thread():
    """Tests use tiny models that gain nothing from threads, and on a busy 2-core machine
    torch's spinning worker threads make them many times slower (see bench/RESULTS.md)."""
    import torch

    torch.set_num_threads(1)
    yield


@pytest.fixture
def show_thread():
    return ShowThread


@pytest.fixture
def python_exe() -> str:
    return sys.executable
