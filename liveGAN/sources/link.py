"""Ableton Link: one tempo and beat shared by every program and machine on the network.

Place in the data flow: Link peers (Live, Bitwig, other liveGAN machines, phones) -> (aalink on
its own asyncio thread) -> **sources/link** -> `/livegan/clock/sync link <bpm> <beat> <time>`
reports -> the show's clock, which follows them when `[clock] source = "link"`.

A report says which beat Link is on at a moment of `time.perf_counter()`; the clock places each
frame's beat from the newest report, so every frame sits on the session's timeline (a report
read between two perf_counter readings is within microseconds of them). Peers agree on the beat
phase within a `quantum` of beats (a bar of 4 by default), so bars line up across machines.

A tempo the performer sets while following Link (OSC, tap) is asked of the session
(`request_tempo`), and every peer follows it. The number of peers is published as the read-only
parameter `link/peers`.
"""
from __future__ import annotations

import asyncio
import threading
import time
from typing import Callable

from liveGAN.params import OSC_PREFIX, Param
from liveGAN.plugins import number_option


class LinkSource:
    """Ableton Link through aalink (`[[inputs]] kind = "link"`).

    Options: `quantum` (beats the session aligns phase over, default 4), `bpm` (the tempo
    offered when this is the first peer, default 120), `rate` (reports per second, default 100).
    """

    def __init__(self, options: dict) -> None:
        options = dict(options)
        self.quantum = options.pop("quantum", 4)
        self.bpm = options.pop("bpm", 120.0)
        self.rate = options.pop("rate", 100)
        if options:
            raise ValueError(f"link: unknown option(s) {', '.join(sorted(options))} "
                             "(known: quantum, bpm, rate)")
        checked = {"quantum": self.quantum, "bpm": self.bpm, "rate": self.rate}
        for name, lo, hi in (("quantum", 1, 64), ("bpm", 20, 999), ("rate", 1, 1000)):
            number_option("link", checked, name, None, lo, hi)
        self._post: Callable[..., bool] | None = None
        self._say: Callable[[str], None] = print
        self._log: Callable[[str, str], None] = lambda kind, message: print(message)
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._requested: float | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self.peers = 0
        self.tempo = float(self.bpm)

    def params(self) -> list:
        return [Param("link", "peers", "int", 0, 0, 1024, 0,
                      "Ableton Link peers in the session (not counting this one)",
                      readonly=True)]

    def connect(self, link) -> None:
        self._say, self._log = link.say, link.log

    def start(self, post: Callable[..., bool]) -> None:
        import aalink  # noqa: F401 - fail here, at start, with a clear message

        self._post = post
        self._ready.clear()
        self._thread = threading.Thread(target=self._run, name="liveGAN-link", daemon=True)
        self._thread.start()
        self._ready.wait(10.0)
        if self._error is not None:
            raise RuntimeError(f"Ableton Link did not start: {self._error}")
        self._say(f"Link: joined the session ({self.tempo:.1f} BPM, quantum {self.quantum})")

    def stop(self) -> None:
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None:
            loop.call_soon_threadsafe(stop.set)
        if self._thread is not None:
            self._thread.join(5.0)
            self._thread = None

    def request_tempo(self, bpm: float) -> None:
        """Ask the session for `bpm` (from the show's thread; applied on Link's)."""
        self._requested = float(bpm)

    # -- Link's thread -------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            asyncio.run(self._session())
        except BaseException as err:  # noqa: BLE001 - reported by start() or the log
            self._error = err
            self._ready.set()
            self._log("link", f"Link stopped: {type(err).__name__}: {err}")

    async def _session(self) -> None:
        from aalink import Link

        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        link = Link(float(self.bpm))  # joins the running loop
        link.quantum = float(self.quantum)
        link.enabled = True
        self.tempo = link.tempo
        self._ready.set()
        period = 1.0 / self.rate
        sync = f"{OSC_PREFIX}/clock/sync"
        try:
            while not self._stop.is_set():
                requested, self._requested = self._requested, None
                if requested is not None:
                    link.tempo = requested
                beat, at = read_beat(link)
                tempo = link.tempo
                self.tempo = tempo
                self._post(sync, "link", tempo, beat, at, 1.0)
                peers = link.num_peers
                if peers != self.peers:
                    self.peers = peers
                    self._post("/link/peers", peers)
                    self._say(f"Link: {peers} peer{'s' if peers != 1 else ''}, "
                              f"{tempo:.1f} BPM")
                try:
                    await asyncio.wait_for(self._stop.wait(), period)
                except asyncio.TimeoutError:
                    pass
        finally:
            link.enabled = False


def read_beat(link, tries: int = 3) -> tuple[float, float]:
    """Link's beat now and the `time.perf_counter()` it belongs to: of a few readings, the one
    taken in the shortest time (a reading interrupted by another thread is off by as long)."""
    best = None
    for _ in range(tries):
        before = time.perf_counter()
        beat = link.beat
        after = time.perf_counter()
        if best is None or after - before < best[0]:
            best = (after - before, beat, 0.5 * (before + after))
    return best[1], best[2]
