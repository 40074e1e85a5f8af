"""OSC that answers: address patterns, bundle time tags, get, subscribe and the latency probe.

Place in the data flow: the OSC server's receive thread (liveGAN.sources.osc) hands over what
it can't answer by itself: a pattern (`/livegan/grade/*`) is expanded over the address table
(`PatternTable`), a bundle stamped for later waits until then (`TimeTags`), and the requests
below are answered from the show's published Snapshot (`Answers`), never from its thread:

    /livegan/get <address or pattern> [port]       -> <address> <value>, one per match
    /livegan/subscribe <host> <port> [pattern]     -> changed values (at most `rate` bundles a
                                                      second) and /livegan/status/... lines
    /livegan/unsubscribe <host> <port>
    /livegan/probe <id> [port]                     -> /livegan/probe/ack <id> <ms> when the
                                                      first frame after it is presented

Replies go to the sender's address and port, or to the port given. Requests are plain messages
(not inside bundles). Subscribers are capped, each gets at most one datagram per tick, and one
that keeps failing is dropped with one line: an unreachable subscriber never causes a storm.
"""
from __future__ import annotations

import heapq
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder

from liveGAN.params import OSC_PREFIX

GET = f"{OSC_PREFIX}/get"
SUBSCRIBE = f"{OSC_PREFIX}/subscribe"
UNSUBSCRIBE = f"{OSC_PREFIX}/unsubscribe"
PROBE = f"{OSC_PREFIX}/probe"
REQUESTS = frozenset(a.encode() for a in (GET, SUBSCRIBE, UNSUBSCRIBE, PROBE))
PATTERN_BYTES = b"*?[]{}"
STATUS = ("fps", "generator_fps", "bpm", "beat", "patch")

MAX_SUBSCRIBERS = 16
MAX_PROBES = 256
MAX_GET_REPLIES = 512
MAX_DATAGRAM = 8192        # a subscriber's tick is split into datagrams of at most this size
FEEDBACK_RATE = 30.0       # value bundles per second per subscriber
STATUS_EVERY_S = 0.5
FAILURES_TO_DROP = 50
# Bundles stamped for later: at most this many wait, at most this far ahead (seconds).
MAX_SCHEDULED = 4096
MAX_AHEAD_S = 60.0
NTP_EPOCH = 2208988800    # seconds from 1900 (OSC time tags) to 1970 (time.time)

LOG_REQUEST = "osc request"
LOG_TIMETAG = "osc time tag"


class PatternError(ValueError):
    """An OSC address pattern that can't be read (an unclosed bracket or brace)."""


def has_pattern(address: bytes) -> bool:
    """Whether `address` holds any of OSC's pattern characters (a C-speed check: it runs for
    every unknown address, garbage floods included)."""
    return len(address.translate(None, PATTERN_BYTES)) != len(address)


def pattern_regex(pattern: str) -> re.Pattern:
    """OSC 1.0 address pattern -> regular expression: `?` one character, `*` any run, `[a-z]`
    and `[!a-z]` one of a set, `{foo,bar}` one of the words; none of them crosses a `/`."""
    out, i, n = ["^"], 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            end = pattern.find("]", i + 1)
            if end < 0:
                raise PatternError(f"'[' at {i} is never closed")
            body = pattern[i + 1:end]
            negate = body.startswith("!")
            body = body[1:] if negate else body
            if not body or "/" in body:
                raise PatternError(f"'[{pattern[i + 1:end]}]' is not a set of characters")
            parts = []
            for j, ch in enumerate(body):
                if ch == "-" and 0 < j < len(body) - 1:
                    parts.append("-")
                else:
                    parts.append(re.escape(ch))
            out.append(("[^/" if negate else "[") + "".join(parts) + "]")
            i = end
        elif c == "{":
            end = pattern.find("}", i + 1)
            if end < 0:
                raise PatternError(f"'{{' at {i} is never closed")
            words = pattern[i + 1:end].split(",")
            if any("/" in w or any(x in w for x in "*?[]{") for w in words):
                raise PatternError(f"'{{{pattern[i + 1:end]}}}' must list plain words")
            out.append("(?:" + "|".join(re.escape(w) for w in words) + ")")
            i = end
        elif c in "]}":
            raise PatternError(f"'{c}' at {i} closes nothing")
        else:
            out.append(re.escape(c))
        i += 1
    out.append("$")
    try:
        return re.compile("".join(out))
    except re.error as err:  # a range like [z-a]
        raise PatternError(str(err)) from None


class PatternTable:
    """Expands patterns over an address table; the last few hundred patterns are remembered
    per table, so a controller sending the same pattern pays the regex once."""

    def __init__(self, limit: int = 512) -> None:
        self._table: object = None
        self._cache: dict[bytes, list[bytes]] = {}
        self._limit = limit

    def expand(self, pattern: bytes, table: dict) -> list[bytes]:
        """The addresses of `table` (raw bytes keys) that `pattern` matches; PatternError if
        the pattern is malformed."""
        if table is not self._table:
            self._table, self._cache = table, {}
        found = self._cache.get(pattern)
        if found is None:
            regex = pattern_regex(pattern.decode("utf-8", errors="strict"))
            found = [a for a in table if regex.match(a.decode("utf-8", "replace"))]
            if len(self._cache) >= self._limit:
                self._cache.clear()
            self._cache[pattern] = found
        return found


def readdress(message: bytes, end: int, address: bytes) -> bytes:
    """`message` (whose address ends at byte `end`) with `address` in its place."""
    padded = address + b"\x00" * (4 - len(address) % 4)
    return padded + message[(end + 4) & ~3:]


class TimeTags:
    """Bundles stamped for a later moment wait here until it comes (OSC 1.0: a bundle's
    messages take effect at its time tag; "immediately" and past tags at once)."""

    def __init__(self, clock: Callable[[], float] = time.time,
                 log: Callable[[str, str], None] | None = None) -> None:
        self._clock = clock
        self._log = log or (lambda kind, message: None)
        self._heap: list[tuple[float, int, bytes]] = []
        self._order = 0
        self.held = 0

    def hold(self, bundle: bytes) -> bool:
        """True if `bundle` waits for later (it is kept); False: read it now."""
        if len(bundle) < 16:
            return False
        seconds = int.from_bytes(bundle[8:12], "big")
        fraction = int.from_bytes(bundle[12:16], "big")
        if seconds == 0 and fraction == IMMEDIATELY:
            return False
        due = seconds - NTP_EPOCH + fraction / 2**32
        now = self._clock()
        if due <= now + 0.0005:
            return False
        if due - now > MAX_AHEAD_S:
            self._log(LOG_TIMETAG, f"OSC: a bundle stamped {due - now:.0f} s ahead was applied "
                                   f"now (at most {MAX_AHEAD_S:g} s ahead are held)")
            return False
        if len(self._heap) >= MAX_SCHEDULED:
            self._log(LOG_TIMETAG, f"OSC: {MAX_SCHEDULED} bundles already wait for their time "
                                   "tag; this one was applied now")
            return False
        self._order += 1
        heapq.heappush(self._heap, (due, self._order, bundle))
        self.held += 1
        return True

    def due(self) -> list[bytes]:
        """The held bundles whose moment has come, in time order."""
        heap, now, ready = self._heap, self._clock(), []
        while heap and heap[0][0] <= now:
            ready.append(heapq.heappop(heap)[2])
        return ready

    def wait_s(self, longest: float) -> float:
        """How long the receive thread may sleep before the next held bundle is due."""
        if not self._heap:
            return longest
        return min(longest, max(self._heap[0][0] - self._clock(), 0.0))

    def __len__(self) -> int:
        return len(self._heap)


@dataclass
class Subscriber:
    host: str
    port: int
    regex: re.Pattern | None
    sent: dict = field(default_factory=dict)
    failures: int = 0
    status_at: float = 0.0


def port_number(value) -> int | None:
    """A UDP port from an OSC argument (Pd, Max and TouchDesigner often send it as a float)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not 1 <= value <= 65535 or value != int(value):
        return None
    return int(value)


def osc_value(param, value: float):
    """A value as its OSC type: float, int (ints), int 0/1 (bools)."""
    if param is not None and param.kind in ("int", "bool", "trigger"):
        return int(round(value))
    return float(value)


def message(address: str, *values) -> bytes:
    builder = OscMessageBuilder(address)
    for value in values:
        builder.add_arg(value)
    return builder.build().dgram


class Answers:
    """Answers get, subscribe, unsubscribe and probe for one OSC server (see the module
    docstring). `handle` runs on the receive thread; a daemon thread sends the feedback."""

    def __init__(self, sock: socket.socket, link, log: Callable[[str, str], None]) -> None:
        self._sock = sock
        self._link = link
        self._log = log
        self._subscribers: dict[tuple[str, int], Subscriber] = {}
        self._probes: list[tuple[object, tuple, float]] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="liveGAN-osc-answers",
                                        daemon=True)
        self._patterns = PatternTable()
        self.answered = 0
        self.sent = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        self._thread.join(5.0)

    # -- requests, on the receive thread -----------------------------------------------------

    def handle(self, data: bytes, sender: tuple, arrived: float) -> None:
        try:
            request = OscMessage(data)
            address, args = request.address, request.params
        except Exception as err:  # noqa: BLE001
            self._log(LOG_REQUEST, f"OSC: ignored a malformed request ({err})")
            return
        try:
            if address == GET:
                self._get(args, sender)
            elif address == SUBSCRIBE:
                self._subscribe(args)
            elif address == UNSUBSCRIBE:
                self._unsubscribe(args)
            elif address == PROBE:
                self._probe(args, sender, arrived)
            self.answered += 1
        except ValueError as err:
            self._log(LOG_REQUEST, f"OSC {address}: {err}")

    def _reply_to(self, sender: tuple, args: list, index: int) -> tuple:
        if len(args) > index:
            port = port_number(args[index])
            if port is None:
                raise ValueError(f"a reply port is 1..65535, got {args[index]!r}")
            return sender[0], port
        return sender[0], sender[1]

    def _get(self, args: list, sender: tuple) -> None:
        if not args or not isinstance(args[0], str) or not args[0].startswith("/"):
            raise ValueError("get takes an address (or a pattern): /livegan/get /livegan/latent/speed")
        target = self._reply_to(sender, args, 1)
        replies = [message(a, v) for a, v in self.lookup(args[0])[:MAX_GET_REPLIES]]
        if not replies:
            replies = [message(f"{OSC_PREFIX}/error", f"get: no parameter at {args[0][:200]}")]
        for reply in replies:
            self._send(reply, target)

    def lookup(self, pattern: str) -> list[tuple[str, object]]:
        """(address, value) of every parameter `pattern` names, from the newest snapshot.
        A read-only parameter answers at both `/livegan/<group>/<name>` and `/<group>/<name>`."""
        snapshot, registry = self._link.snapshot(), self._link.registry()
        table = {p.address.encode(): p for p in registry}
        table.update({f"/{p.key}".encode(): p for p in registry if p.readonly})
        raw = pattern.encode("utf-8", "replace")
        if has_pattern(raw):
            try:
                found = self._patterns.expand(raw, table)
            except PatternError as err:
                raise ValueError(f"malformed pattern {pattern[:120]!r}: {err}") from None
        else:
            found = [raw] if raw in table else []
        out = []
        for address in found:
            param = table[address]
            value = snapshot.values.get(param.key, param.default)
            out.append((address.decode(), osc_value(param, value)))
        return out

    def _subscribe(self, args: list) -> None:
        port = port_number(args[1]) if len(args) >= 2 else None
        if port is None or not isinstance(args[0], str):
            raise ValueError("subscribe takes: host port [pattern]")
        regex = None
        if len(args) > 2:
            if not isinstance(args[2], str) or not args[2].startswith("/"):
                raise ValueError(f"subscribe: a pattern starts with '/', got {args[2]!r}")
            try:
                regex = pattern_regex(args[2])
            except PatternError as err:
                raise ValueError(f"subscribe: malformed pattern {args[2][:120]!r}: {err}") \
                    from None
        try:
            host = socket.gethostbyname(args[0]) if len(args[0]) < 256 else ""
        except OSError:
            host = ""
        if not host:
            raise ValueError(f"subscribe: unknown host {args[0][:80]!r}")
        key = (host, port)
        with self._lock:
            if key not in self._subscribers and len(self._subscribers) >= MAX_SUBSCRIBERS:
                oldest = next(iter(self._subscribers))
                del self._subscribers[oldest]
                self._log("osc subscribers", f"OSC: more than {MAX_SUBSCRIBERS} subscribers; "
                                             f"dropped {oldest[0]}:{oldest[1]}")
            self._subscribers[key] = Subscriber(host, port, regex)
        self._wake.set()
        self._link.say(f"OSC: sending changes to {host}:{port}"
                       + (f" ({args[2]})" if regex is not None else ""))

    def _unsubscribe(self, args: list) -> None:
        port = port_number(args[1]) if len(args) >= 2 else None
        if port is None or not isinstance(args[0], str):
            raise ValueError("unsubscribe takes: host port")
        try:
            host = socket.gethostbyname(args[0])
        except OSError:
            host = args[0]
        with self._lock:
            gone = self._subscribers.pop((host, port), None)
        if gone is not None:
            self._link.say(f"OSC: no longer sending to {host}:{port}")

    def _probe(self, args: list, sender: tuple, arrived: float) -> None:
        if not args or isinstance(args[0], bool) or not isinstance(args[0], (int, float, str)):
            raise ValueError("probe takes an id (a number or a string)")
        target = self._reply_to(sender, args, 1)
        with self._lock:
            if len(self._probes) >= MAX_PROBES:
                raise ValueError(f"more than {MAX_PROBES} probes wait for a frame")
            self._probes.append((args[0], target, arrived))
        self._wake.set()

    @property
    def subscribers(self) -> list[tuple[str, int]]:
        with self._lock:
            return list(self._subscribers)

    # -- the feedback thread --------------------------------------------------------------------

    def _run(self) -> None:
        next_tick = 0.0
        while not self._stopping:
            with self._lock:
                probing = bool(self._probes)
                subscribed = bool(self._subscribers)
            if not probing and not subscribed:
                self._wake.wait(1.0)
                self._wake.clear()
                continue
            try:
                if probing:
                    self._acknowledge()
                now = time.perf_counter()
                if subscribed and now >= next_tick:
                    next_tick = now + 1.0 / FEEDBACK_RATE
                    self._feed()
            except Exception as err:  # noqa: BLE001 - the thread outlives anything
                self._log("osc feedback", f"OSC feedback: {type(err).__name__}: {err}")
            # While a probe waits, look at every frame (a millisecond); else once a tick.
            time.sleep(0.001 if probing else max(next_tick - time.perf_counter(), 0.001))

    def _acknowledge(self) -> None:
        snapshot = self._link.snapshot()
        with self._lock:
            ready = [p for p in self._probes if snapshot.drained_at >= p[2]]
            if not ready:
                return
            self._probes = [p for p in self._probes if snapshot.drained_at < p[2]]
        for probe_id, target, arrived in ready:
            ms = 1000.0 * (snapshot.presented_at - arrived)
            self._send(message(f"{PROBE}/ack", probe_id, float(ms)), target)

    def _feed(self) -> None:
        snapshot, registry = self._link.snapshot(), self._link.registry()
        now = time.perf_counter()
        with self._lock:
            subscribers = list(self._subscribers.values())
        params = list(registry)
        for sub in subscribers:
            messages = []
            for param in params:
                if param.kind == "trigger":
                    continue
                address = param.address
                if sub.regex is not None and not sub.regex.match(address):
                    continue
                value = snapshot.values.get(param.key)
                if value is None or sub.sent.get(address) == value:
                    continue
                sub.sent[address] = value
                messages.append(message(address, osc_value(param, value)))
            if now - sub.status_at >= STATUS_EVERY_S:
                sub.status_at = now
                messages += status_messages(snapshot)
            if messages:
                self._deliver(sub, messages)

    def _deliver(self, sub: Subscriber, messages: list[bytes]) -> None:
        chunk: list[bytes] = []
        size = 16
        for item in messages + [None]:
            if item is None or size + len(item) + 4 > MAX_DATAGRAM:
                if chunk:
                    builder = OscBundleBuilder(IMMEDIATELY)
                    for m in chunk:
                        builder.add_content(OscMessage(m))
                    if not self._send(builder.build().dgram, (sub.host, sub.port)):
                        sub.failures += 1
                        if sub.failures >= FAILURES_TO_DROP:
                            with self._lock:
                                self._subscribers.pop((sub.host, sub.port), None)
                            self._link.say(f"OSC: {sub.host}:{sub.port} keeps failing; "
                                           "stopped sending to it")
                            return
                    else:
                        sub.failures = 0
                chunk, size = [], 16
            if item is not None:
                chunk.append(item)
                size += len(item) + 4

    def _send(self, data: bytes, target: tuple) -> bool:
        try:
            self._sock.sendto(data, target)
            self.sent += 1
            return True
        except OSError as err:
            self._log("osc send", f"OSC: could not send to {target[0]}:{target[1]}: {err}")
            return False


def status_messages(snapshot) -> list[bytes]:
    """`/livegan/status/<name> <value>` for fps, generator fps, bpm, beat and the patch."""
    return [
        message(f"{OSC_PREFIX}/status/fps", float(snapshot.fps)),
        message(f"{OSC_PREFIX}/status/generator_fps", float(snapshot.generator_fps)),
        message(f"{OSC_PREFIX}/status/bpm", float(snapshot.bpm)),
        message(f"{OSC_PREFIX}/status/beat", float(snapshot.beat)),
        message(f"{OSC_PREFIX}/status/patch", str(snapshot.patch)[-500:]),
    ]

