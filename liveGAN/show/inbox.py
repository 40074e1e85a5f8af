"""Where sources leave events for the show: `post(address, *values)` from any thread.

Place in the data flow: sources (OSC, MIDI, audio, keys, plugins) -> **inbox** -> the show's
update drains it once per frame. `post` never blocks and never waits for the show.

Under a flood the newest value must win: continuous values (a fader, a published audio level)
are kept as one slot per address, so a burst of thousands of moves costs the show one value
each, and a new move never waits behind old ones. Discrete events (triggers, notes, actions)
keep their order in a bounded queue; when it is full, new ones are dropped and counted.
Which addresses are continuous is the show's to say (`set_continuous`), from its address table.

A control the show acts on (a parameter, a mapping's source, an action: `set_waking`) also sets
`arrived`, which wakes the show's clock so the frame's update runs at once and the generator
gets the new request without waiting for the next display deadline. A source's own published
stream (audio levels) and unknown addresses never wake it.
"""
from __future__ import annotations

import threading
from collections import deque

MAX_EVENTS = 4096
MAX_VALUES = 64  # an event with more values than this is refused (a malformed sender)


class Inbox:
    """Events waiting for the next frame. `dropped` counts what a full queue refused."""

    def __init__(self, max_events: int = MAX_EVENTS) -> None:
        self._latest: dict[str, tuple] = {}
        self._events: deque = deque()
        self._lock = threading.Lock()
        self._continuous: frozenset[str] = frozenset()
        self._waking: frozenset[str] = frozenset()
        self.arrived = threading.Event()
        self.woke = False   # whether the last drain held a waking control
        self._max_events = max_events
        self.dropped = 0
        self.refused = 0

    def set_continuous(self, addresses) -> None:
        """The addresses whose newest value replaces any older one still waiting."""
        self._continuous = frozenset(addresses)

    def set_waking(self, addresses) -> None:
        """The addresses whose arrival wakes the show for an early update."""
        self._waking = frozenset(addresses)

    def post(self, address: str, *values: object) -> bool:
        """Leave an event; False if it was refused (full queue, too many values)."""
        if len(values) > MAX_VALUES or not isinstance(address, str):
            with self._lock:
                self.refused += 1
            return False
        if address in self._continuous:
            with self._lock:
                self._latest[address] = values
        else:
            with self._lock:
                if len(self._events) >= self._max_events:
                    self.dropped += 1
                    return False
                self._events.append((address, values))
        if address in self._waking and not self.arrived.is_set():
            self.arrived.set()
        return True

    def drain(self) -> tuple[dict[str, tuple], deque]:
        """(newest value of each continuous address, queued events oldest first); empties both."""
        with self._lock:
            self.woke = self.arrived.is_set()
            self.arrived.clear()
            latest, self._latest = self._latest, {}
            events, self._events = self._events, deque()
        return latest, events
