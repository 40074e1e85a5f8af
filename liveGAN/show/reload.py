"""The patch watcher: a saved edit is read, checked and its model loaded off the show's thread.

Place in the data flow: the patch file -> **reload** (its own thread) -> a ready (patch, model)
pair the show picks up between frames. Parsing and model loading never happen on the show's
thread, and nothing that goes wrong here stops the watching: a broken save, a file that
disappears, a model that does not load, any exception at all gets one line and the thread keeps
watching for the next save.
"""
from __future__ import annotations

import os
import queue
import threading
from pathlib import Path
from typing import Callable

from liveGAN.patch import Patch, PatchError, read_patch
from liveGAN.show.scene import load_bundle


class Reloader:
    """Watches `path`; on a change parses it and loads a changed model, then offers the pair."""

    POLL_S = 0.25

    def __init__(self, path: Path, current: Patch, device: str | None,
                 log: Callable[[str, str], None], say: Callable[[str], None]) -> None:
        self.path, self.device, self.log, self.say = path, device, log, say
        self.ready: queue.SimpleQueue = queue.SimpleQueue()
        self._patch = current
        self._stamp = self._stat()
        self._missing_said = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="liveGAN-reload", daemon=True)

    def _stat(self):
        try:
            st = os.stat(self.path)
            return (st.st_mtime_ns, st.st_size, st.st_ino)
        except OSError:
            return None

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2.0)

    def accepted(self, patch: Patch) -> None:
        """The show adopted `patch`: later model changes are judged against it."""
        self._patch = patch

    def take(self) -> tuple[Patch, object] | None:
        """The newest ready (patch, model bundle or None), if any; never waits."""
        found = None
        while True:
            try:
                found = self.ready.get_nowait()
            except queue.Empty:
                return found

    def _run(self) -> None:
        while not self._stop.wait(self.POLL_S):
            try:
                self._check()
            except Exception as err:  # noqa: BLE001 - the watcher outlives anything
                self.log("reload", f"{str(self.path)[:200]}: patch not reloaded, keeping the "
                                   f"last good one: {type(err).__name__}: {err}")

    def _check(self) -> None:
        stamp = self._stat()
        if stamp is None:
            if not self._missing_said and self._stamp is not None:
                self._missing_said = True
                self.say(f"{self.path}: the patch file is gone; playing the last good patch "
                         "(save it again to reload)")
            self._stamp = None
            return
        self._missing_said = False
        if stamp == self._stamp:
            return
        self._stamp = stamp
        patch, problems = read_patch(self.path)
        if problems:
            self.say(f"patch not reloaded, keeping the last good one:\n{PatchError(problems)}")
            return
        bundle = None
        if patch.model != self._patch.model:
            try:
                bundle = load_bundle(patch.model, self.device,
                                     log=lambda m: self.log("model", m))
            except Exception as err:  # noqa: BLE001 - any model failure: keep the last one
                self.say(f"patch not reloaded, keeping the last good one: {patch.path}: "
                         f"model: {type(err).__name__}: {err}")
                return
        self.ready.put((patch, bundle))
