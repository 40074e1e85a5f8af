"""OSC input: datagrams from TouchDesigner, Max, Pd or TouchOSC, checked and handed on as numbers.

Place in the data flow: **sources/osc** -> the show's inbox -> params. A daemon thread receives
datagrams on one UDP socket, checks each message against the show's address table (the
registry's `/livegan/<group>/<name>` addresses, the patch's mapping sources such as
`/touchosc/fader1`, and the show's actions such as `/livegan/quit`) and posts
`post(address, value)`. It never touches parameter values, GL or the model; clamping and
smoothing happen in the show (`Param.coerce`). `OscSource` is the `osc` input kind (`[[inputs]]
kind = "osc"`, or the `[osc]` table).

Everything that arrives is untrusted. A message to an unknown address, with the wrong type or
number of arguments, or a datagram that is not OSC at all is counted, reported once through the
rate-limited log (naming the address and what was wrong) and ignored. Unknown addresses are
turned away by one dict lookup on the raw address bytes before any argument is parsed, so a flood
of garbage costs little; and when the socket never runs dry the thread rests as long as it worked,
so a flood cannot take the frame loop's core or keep it waiting for the GIL
(`bench/osc_flood.py` measures both).

Under a burst the newest value of each address wins and old values never queue in front of new
ones: the thread takes everything waiting in the socket at once and looks at it newest first.
When that is more than `_BACKLOG_MESSAGES` messages (more than a frame's worth of work), only the
newest message of each value address (float, int, bool) is read, and datagrams older than the
newest `_BACKLOG_MESSAGES` messages are skipped as stale, counted in `skipped` and reported once.
A normal stream of messages is read whole and in order.

Bundles, nested ones included, are unpacked and their messages applied together: at once, or at
their time tag when it lies ahead (`osc_answers.TimeTags`). Address patterns (`*`, `?`, `[a-z]`,
`{a,b}`) are expanded over the address table. `/livegan/get`, `/livegan/subscribe`,
`/livegan/unsubscribe` and `/livegan/probe` are answered from the show's snapshot
(`osc_answers.Answers`), and `[osc] query_port` serves the namespace over OSCQuery
(`oscquery.py`).
"""
from __future__ import annotations

import math
import select
import socket
import struct
import threading
import time
from dataclasses import dataclass
from typing import Callable, Iterable, Mapping

from pythonosc import osc_message
from pythonosc.udp_client import SimpleUDPClient

from liveGAN.log import RateLimitedLog
from liveGAN.params import Param
from liveGAN.sources.osc_answers import (
    REQUESTS, Answers, PatternError, PatternTable, TimeTags, has_pattern, readdress,
)

ROUTE_KINDS = ("float", "int", "bool", "trigger", "any", "readonly", "action")
# An action (`/livegan/quit`, and the commands later issues add) takes its own arguments:
# at most this many, strings no longer than _ACTION_TEXT characters.
_ACTION_ARGS = 16
_ACTION_TEXT = 1024

# The largest UDP payload over IPv4; anything shorter arrives whole.
_MAX_DATAGRAM = 65536
_BUNDLE_HEAD = b"#bundle\x00"
_BUNDLE_NESTING = 8
_INT32 = struct.Struct(">i")
# Ask for a kernel receive buffer that lets a controller's burst survive a frame-loop stall
# (Linux doubles it, capped at net.core.rmem_max: about 2700 small messages). Not bigger: after
# a flood everything in it must be read before the newest message, and a 4 MB buffer made
# that wait twice as long (bench/osc_flood.py, burst).
_RECEIVE_BUFFER = 1 << 20
# Under a flood the receive thread would take a whole core and keep the frame loop waiting for
# the GIL. After each batch it looks at how long it has been busy without the socket running
# dry; past `_BUSY_S` it rests `_REST_RATIO` times that long, so it uses at most
# about 1 / (1 + _REST_RATIO) of a core. What arrives meanwhile waits in the socket buffer.
# Measured with bench/osc_flood.py.
_BUSY_S = 0.0005
_REST_RATIO = 1.0
# At most this many datagrams are taken from the socket in one go (a batch); a batch holding
# more than _BACKLOG_MESSAGES messages is a backlog (see the module docstring). Reading one
# message costs about 5 us, so the newest _BACKLOG_MESSAGES cost a few ms: under a frame.
_BATCH = 4096
_BACKLOG_MESSAGES = 1024
_VALUE_KINDS = frozenset(("float", "int", "bool"))

# OSC type tags python-osc can parse, and their names in messages to the user.
_TAG_NAMES = {
    "i": "int", "h": "int64", "f": "float", "d": "double", "s": "string", "S": "symbol",
    "b": "blob", "r": "colour", "m": "MIDI message", "t": "time tag", "T": "true",
    "F": "false", "N": "nil", "[": "array", "]": "array",
}
_PARSEABLE_TAGS = frozenset("ifdhsbrmtTFN[]")
_NUMBER_TAGS = frozenset("ifdhTF")
# The fewest bytes each argument takes. python-osc pads a short float with zeros (for Reaktor),
# which would turn a truncated message into a 0.0 on stage; checking sizes first refuses it.
_ARG_BYTES = {"i": 4, "f": 4, "r": 4, "m": 4, "h": 8, "d": 8, "t": 8, "s": 4, "b": 4}

# The rate-limited log's kinds: each kind of mistake is reported on its own.
LOG_UNKNOWN = "osc unknown address"
LOG_TYPE = "osc wrong type"
LOG_COUNT = "osc wrong count"
LOG_MALFORMED = "osc malformed"
LOG_BACKLOG = "osc backlog"


@dataclass(frozen=True)
class Route:
    """What an OSC address accepts.

    `float`, `int` and `bool` take exactly one number (or OSC true/false); an int is rounded and a
    bool becomes 0 or 1. `trigger` takes nothing or one argument of any type and always posts 1.0.
    `any` is a mapping source (`/touchosc/fader1`): one number (or true/false), posted as it came.
    `readonly` is a value a source publishes (`/livegan/audio/level`): refused, it can't be set.
    `action` is a command: its arguments (numbers and strings) are posted as they came.
    Non-finite numbers are refused everywhere.
    """

    kind: str = "float"

    def __post_init__(self) -> None:
        if self.kind not in ROUTE_KINDS:
            raise ValueError(f"OSC route kind must be one of {ROUTE_KINDS}, not {self.kind!r}")


def routes_from_params(params: Iterable[Param]) -> dict[str, Route]:
    """A route for every param at its `/livegan/<group>/<name>` address."""
    return {param.address: Route(param.kind) for param in params}


def send(address: str, *values: object, port: int = 9000, host: str = "127.0.0.1") -> None:
    """Send one OSC message (ints as int32, floats as float32, bools as T/F, str as string)."""
    with SimpleUDPClient(host, port) as client:
        client.send_message(address, list(values))


class OscServer:
    """Receives OSC on a UDP port in a daemon thread and posts checked values with `post`.

    `post(address, *values) -> bool` is the show's inbox (False: it refused the event).
    `stats` counts datagrams `received`, messages `accepted` (posted), messages or datagrams
    `rejected`, and valid messages `dropped` because the inbox refused them. Datagrams the kernel
    drops when the socket buffer overflows are not seen and not counted. `log(kind, message)` is
    called for every rejection; a `RateLimitedLog` prints the first of each kind.
    """

    def __init__(self, post: Callable[..., bool], port: int = 9000, host: str = "127.0.0.1",
                 log: RateLimitedLog | Callable[[str, str], None] | None = None) -> None:
        self.post = post
        self.host = host
        self.port = port
        self._requested_port = port
        self.log = log if log is not None else RateLimitedLog()
        # Raw address bytes -> (address, kind): looked up before anything is decoded or parsed.
        self._routes: dict[bytes, tuple[str, str]] = {}
        self._sock: socket.socket | None = None
        self._wake_send: socket.socket | None = None
        self._wake_receive: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._follow: Callable[[], Mapping[str, str]] | None = None
        self._followed = None
        self.received = self.accepted = self.rejected = self.dropped = 0
        # Under a backlog: older values of an address left out, stale datagrams skipped.
        self.superseded = self.skipped = 0
        # Requests that need an answer (get, subscribe, probe; set by OscSource), patterns,
        # bundles waiting for their time tag.
        self.answers: Answers | None = None
        self._patterns = PatternTable()
        self.timetags = TimeTags(log=self._log_kind)

    # ---- control, from the engine's thread ------------------------------------------------------

    def set_routes(self, routes: Mapping[str, Route]) -> None:
        """Replace the address table in one step; safe while messages are arriving."""
        table: dict[bytes, tuple[str, str]] = {}
        for address, route in routes.items():
            if not address.startswith("/") or "\x00" in address:
                raise ValueError(f"OSC address must start with '/' and hold no NUL: {address!r}")
            if not isinstance(route, Route):
                raise TypeError(f"OSC route for {address} must be a Route, not {route!r}")
            table[address.encode("utf-8")] = (address, route.kind)
        # One attribute assignment: the receive thread sees the old table or the new, never a mix.
        self._routes = table

    def start(self) -> None:
        """Bind the port (raises OSError if it is taken) and start receiving."""
        if self._thread is not None:
            raise RuntimeError("OSC server already started")
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _RECEIVE_BUFFER)
            except OSError:
                pass  # a small buffer only costs messages in a burst; still worth running
            sock.bind((self.host, self._requested_port))
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        self._sock = sock
        self.port = sock.getsockname()[1]
        # A socket pair wakes the idle thread at once on stop(), without polling.
        self._wake_receive, self._wake_send = socket.socketpair()
        self._stopping = False
        self._thread = threading.Thread(target=self._serve, name=f"osc:{self.port}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop receiving, join the thread and close the socket; harmless if not running."""
        thread = self._thread
        if thread is None:
            return
        self._stopping = True
        try:
            self._wake_send.send(b"x")
        except OSError:
            pass  # the wake pipe is full: the thread is awake anyway
        thread.join(timeout=5.0)
        for sock in (self._sock, self._wake_send, self._wake_receive):
            sock.close()
        self._sock = self._wake_send = self._wake_receive = None
        self._thread = None

    @property
    def socket(self) -> socket.socket | None:
        """The bound UDP socket (answers go out from the port requests came to)."""
        return self._sock

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def stats(self) -> dict[str, int]:
        """Counters since construction: received, accepted, rejected, dropped."""
        return {"received": self.received, "accepted": self.accepted,
                "rejected": self.rejected, "dropped": self.dropped}

    def __enter__(self) -> OscServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- the receive thread ---------------------------------------------------------------------

    def follow(self, routes: Callable[[], Mapping[str, str]]) -> None:
        """Take the address table from `routes()` (address -> kind), looked at before each
        datagram: the show replaces it on a reload and the server follows without a restart."""
        self._follow = routes
        self._followed = None

    def _refresh_routes(self) -> None:
        current = self._follow()
        if current is not self._followed:
            self._followed = current
            self.set_routes({address: Route(kind) for address, kind in current.items()
                             if kind in ROUTE_KINDS})

    def _serve(self) -> None:
        sock, wake = self._sock, self._wake_receive
        recvfrom = sock.recvfrom
        busy_since = None
        while not self._stopping:
            batch = self.timetags.due() if len(self.timetags) else []
            try:
                while len(batch) < _BATCH:
                    data, sender = recvfrom(_MAX_DATAGRAM)
                    if data[:9] == b"/livegan/" and self.answers is not None \
                            and data[:data.find(b"\x00")] in REQUESTS:
                        self.answers.handle(data, sender, time.perf_counter())
                        continue
                    batch.append(data)
            except BlockingIOError:
                pass
            except OSError as err:
                self.log("osc receive", f"OSC receive failed on port {self.port}: {err}")
                time.sleep(0.01)
            if not batch:
                select.select((sock, wake), (), (), self.timetags.wait_s(1.0))
                busy_since = None
                continue
            if busy_since is None:
                busy_since = time.perf_counter()
            self.received += len(batch)
            try:
                if self._follow is not None:
                    self._refresh_routes()
                self._batch(batch)
            except Exception as err:  # noqa: BLE001 - the show goes on whatever arrives
                self._reject(LOG_MALFORMED, f"OSC: ignored datagrams that could not be read "
                                            f"({type(err).__name__}: {err})")
            # Busy since the socket last ran dry: rest as long, so a flood takes at most
            # about half a core.
            busy = time.perf_counter() - busy_since
            if busy >= _BUSY_S and _REST_RATIO > 0:
                time.sleep(busy * _REST_RATIO)
                busy_since = time.perf_counter()

    def _batch(self, batch: list[bytes]) -> None:
        """Read the datagrams taken from the socket in one go, oldest first.

        They are unpacked newest first up to `_BACKLOG_MESSAGES` messages; within that budget
        everything is read in order. Past it the batch is a backlog: older datagrams are
        skipped as stale and only the newest message of each value address is read.
        """
        newest_first: list[list[bytes]] = []
        count = 0
        for index in range(len(batch) - 1, -1, -1):
            if count > _BACKLOG_MESSAGES:
                self._skip_stale(index + 1)
                break
            messages = self._messages(batch[index])
            newest_first.append(messages)
            count += len(messages)
        if count <= _BACKLOG_MESSAGES:
            for messages in reversed(newest_first):
                for message in messages:
                    self._read(message)
            return
        routes, seen, kept = self._routes, set(), []
        for messages in newest_first:
            for message in reversed(messages):
                raw = message[:message.find(b"\x00")]
                route = routes.get(raw)
                if route is not None and route[1] in _VALUE_KINDS:
                    if raw in seen:
                        self.superseded += 1
                        continue
                    seen.add(raw)
                kept.append(message)
        for message in reversed(kept):
            self._read(message)

    def _skip_stale(self, count: int) -> None:
        self.skipped += count
        self.log(LOG_BACKLOG, f"OSC: a burst left more than {_BACKLOG_MESSAGES} messages "
                              f"waiting; skipped {count} older datagrams so that the newest "
                              f"values apply at once ({self.skipped} so far)")

    def _read(self, message: bytes) -> None:
        """Post one message; a datagram `_messages` passed on whole is refused here, in order."""
        try:
            if message[:1] == b"/":
                self._message(message)
            elif message.startswith(_BUNDLE_HEAD):
                self._unbundle(message)  # a broken bundle: says what is wrong
            else:
                self._reject(LOG_MALFORMED, f"OSC: ignored a {len(message)}-byte datagram "
                                            f"that is neither a message nor a bundle: "
                                            f"{_preview(message)}")
        except Exception as err:  # noqa: BLE001 - the show goes on whatever arrives
            self._reject(LOG_MALFORMED, f"OSC: ignored a message that could not be read "
                                        f"({type(err).__name__}: {err})")

    def _messages(self, data: bytes) -> list[bytes]:
        """The messages in one datagram: itself, or a bundle's (none yet when its time tag lies
        ahead: it waits in `timetags`). A datagram that is neither, or a broken bundle, comes
        back whole, for `_read` to refuse in its turn."""
        if data.startswith(_BUNDLE_HEAD):
            messages: list[bytes] = []
            if _collect_messages(data, 0, messages):
                return [data]
            return [] if self.timetags.hold(data) else messages
        return [data]

    def _unbundle(self, data: bytes) -> list[bytes] | None:
        """The messages in a bundle and the bundles inside it, in order, or None (reported).

        A broken bundle is refused whole, so half of a scene change never lands.
        """
        messages: list[bytes] = []
        why = _collect_messages(data, 0, messages)
        if why:
            self._reject(LOG_MALFORMED, f"OSC: ignored a malformed bundle: {why}")
            return None
        return messages

    def _message(self, data: bytes) -> None:
        end = data.find(b"\x00")
        if end < 0:
            self._reject(LOG_MALFORMED, f"OSC: ignored a message whose address has no end: "
                                        f"{_preview(data)}")
            return
        route = self._routes.get(data[:end])
        if route is None:
            if has_pattern(data[:end]):
                self._pattern(data, end)
            else:
                self._unknown(data[:end])
            return
        address, kind = route
        # Type tags start at the next 4-byte boundary after the address's NUL; OSC 1.0 lets
        # old senders leave them out, which means no arguments.
        start = (end + 4) & ~3
        if start >= len(data):
            tags = ""
        else:
            tags_end = data.find(b"\x00", start)
            raw_tags = data[start:] if tags_end < 0 else data[start:tags_end]
            if raw_tags[:1] != b",":
                self._reject(LOG_MALFORMED, f"OSC {address}: type tags must start with ',', "
                                            f"got {_preview(raw_tags)}")
                return
            tags = raw_tags[1:].decode("latin-1")
            unknown = set(tags) - _PARSEABLE_TAGS
            if unknown:
                self._reject(LOG_MALFORMED, f"OSC {address}: unsupported type tag "
                                            f"{''.join(sorted(unknown))!r} in ',{tags}'")
                return
            args_start = start + ((len(raw_tags) + 4) & ~3)
            needed = sum(_ARG_BYTES.get(tag, 0) for tag in tags)
            if tags_end < 0 or len(data) < args_start + needed:
                self._reject(LOG_MALFORMED, f"OSC {address}: truncated message: ',{tags}' needs "
                                            f"{needed} bytes of arguments, "
                                            f"got {max(len(data) - args_start, 0)}")
                return
        try:
            args = osc_message.OscMessage(data).params
        except Exception as err:  # noqa: BLE001 - python-osc raises several kinds; none may escape
            detail = err.args[-1] if isinstance(err, osc_message.ParseError) and err.args else err
            self._reject(LOG_MALFORMED, f"OSC {address}: malformed arguments for ',{tags}' "
                                        f"({detail})")
            return
        if kind == "action":
            values = self._action_args(address, tags, args)
        else:
            value = self._value(address, kind, tags, args)
            values = None if value is None else (value,)
        if values is None:
            return
        if self.post(address, *values):
            self.accepted += 1
        else:
            self.dropped += 1

    def _action_args(self, address: str, tags: str, args: list) -> tuple | None:
        """A command's arguments, if they are few, finite numbers or short strings."""
        if len(args) > _ACTION_ARGS:
            self._reject(LOG_COUNT, f"OSC {address}: at most {_ACTION_ARGS} arguments, "
                                    f"got {len(args)}")
            return None
        values = []
        for arg in args:
            if isinstance(arg, bool):
                values.append(float(arg))
            elif isinstance(arg, (int, float)) and math.isfinite(arg):
                values.append(arg)
            elif isinstance(arg, str) and len(arg) <= _ACTION_TEXT and arg.isprintable():
                values.append(arg)
            else:
                self._reject(LOG_TYPE, f"OSC {address}: arguments must be finite numbers or "
                                       f"short strings, got {_show_args(args, tags)}")
                return None
        return tuple(values)

    def _value(self, address: str, kind: str, tags: str, args: list) -> float | None:
        """The number to post for `args` at a route of `kind`; None (reported) if they don't fit."""
        if kind == "readonly":
            self._reject(LOG_TYPE, f"OSC {address}: read-only (a value an input publishes); "
                                   "read it with a mapping or /livegan/get")
            return None
        if kind == "trigger":
            if len(args) > 1:
                self._reject(LOG_COUNT, f"OSC {address}: a trigger takes nothing or one value, "
                                        f"got {len(args)}: {_show_args(args, tags)}")
                return None
            # A push button sends 1 on press and 0 on release: the release posts 0.0, which the
            # engine ignores, so one press is one trigger.
            if args and (args[0] is False or (isinstance(args[0], (int, float))
                                              and not isinstance(args[0], bool) and args[0] == 0)):
                return 0.0
            return 1.0
        if len(args) != 1:
            got = "nothing" if not args else f"{len(args)} values: {_show_args(args, tags)}"
            self._reject(LOG_COUNT, f"OSC {address}: expected one number, got {got}")
            return None
        tag = tags[0]
        if tag not in _NUMBER_TAGS:
            self._reject(LOG_TYPE, f"OSC {address}: expected one number, got "
                                   f"{_show_args(args, tags)}")
            return None
        number = float(args[0])
        if not math.isfinite(number):
            self._reject(LOG_TYPE, f"OSC {address}: expected a finite number, got {number}")
            return None
        if kind == "int":
            return float(round(number))
        if kind == "bool":
            return 1.0 if number >= 0.5 else 0.0
        return number

    def _pattern(self, data: bytes, end: int) -> None:
        """A message to an address pattern: the same message to every address it matches."""
        try:
            found = self._patterns.expand(data[:end], self._routes)
        except (PatternError, UnicodeDecodeError) as err:
            self._reject(LOG_MALFORMED, f"OSC: ignored the malformed pattern "
                                      f"{_preview(data[:end], 80)}: {err}")
            return
        if not found:
            self._reject(LOG_UNKNOWN, f"OSC {_shorten(data[:end].decode('utf-8', 'replace'))}: "
                                      "the pattern matches no address")
            return
        for address in found:
            if self._routes.get(address, ("", ""))[1] != "action":  # commands take no patterns
                self._message(readdress(data, end, address))

    def _log_kind(self, kind: str, message: str) -> None:
        self.log(kind, message)

    def _unknown(self, raw_address: bytes) -> None:
        try:
            address = raw_address.decode("utf-8")
        except UnicodeDecodeError:
            self._reject(LOG_MALFORMED, f"OSC: ignored a message whose address is not UTF-8: "
                                        f"{_preview(raw_address)}")
            return
        if not address.isprintable():
            address = repr(address)
        self._reject(LOG_UNKNOWN, f"OSC {_shorten(address)}: unknown address "
                                  f"(`livegan osc list` shows the address space)")

    def _reject(self, kind: str, message: str) -> None:
        self.rejected += 1
        self.log(kind, message)


class OscSource:
    """OSC over UDP from TouchOSC, TouchDesigner, Max, Pd (`[[inputs]] kind = "osc"`).

    Options: `port` (default 9000; 0 picks a free one), `host` (default "127.0.0.1";
    "0.0.0.0" listens on the network too), `query_port` (serve OSCQuery over HTTP and
    WebSocket on this port and advertise it with zeroconf; 0 picks a free one; default off).
    Every parameter is `/livegan/<group>/<name>`; `livegan osc list PATCH` prints the address
    space.
    """

    def __init__(self, options: dict) -> None:
        options = dict(options)
        self.requested_port = options.pop("port", 9000)
        self.host = options.pop("host", "127.0.0.1")
        self.query_port = options.pop("query_port", None)
        if options:
            raise ValueError(f"osc: unknown option(s) {', '.join(sorted(options))} "
                             "(known: port, host, query_port)")
        query = self.query_port
        if query is not None and (isinstance(query, bool) or not isinstance(query, int)
                                  or not 0 <= query <= 65535):
            raise ValueError(f"osc: query_port must be an integer 0..65535, not {query!r}")
        port = self.requested_port
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise ValueError(f"osc: port must be an integer 0..65535, not {port!r}")
        if not isinstance(self.host, str) or not self.host or "\x00" in self.host:
            raise ValueError(f"osc: host must be an address like \"127.0.0.1\", not "
                             f"{self.host!r}")
        self.server: OscServer | None = None
        self.answers: Answers | None = None
        self.query = None
        self._link = None

    def params(self) -> list:
        return []

    def connect(self, link) -> None:
        self._link = link

    def start(self, post: Callable[..., bool]) -> None:
        log = self._link.log if self._link is not None else RateLimitedLog()
        server = OscServer(post, port=self.requested_port, host=self.host, log=log)
        if self._link is not None:
            server.follow(self._link.routes)
        server.start()  # raises OSError when the port is taken: the show says so
        self.server = server
        if self._link is not None:
            self.answers = Answers(server.socket, self._link, log)
            self.answers.start()
            server.answers = self.answers
            self._link.say(f"OSC listening on {self.host}:{server.port}")
            if self.query_port is not None:
                from liveGAN.sources.oscquery import OscQueryServer

                self.query = OscQueryServer(self._link, self.host, self.query_port,
                                            server.port, log)
                try:
                    self.query.start()
                except OSError as err:
                    self.query = None
                    self._link.say(f"OSCQuery is off: port {self.query_port} ({err})")

    def stop(self) -> None:
        if self.query is not None:
            self.query.stop()
            self.query = None
        if self.server is not None:
            self.server.answers = None
            self.server.stop()
            self.server = None
        if self.answers is not None:
            self.answers.stop()
            self.answers = None

    @property
    def port(self) -> int | None:
        return self.server.port if self.server is not None else None


def _collect_messages(bundle: bytes, depth: int, messages: list[bytes]) -> str:
    """Append the messages of `bundle` (nested ones too) to `messages`; what is wrong, or ''."""
    if depth >= _BUNDLE_NESTING:
        return f"bundles nested more than {_BUNDLE_NESTING} deep"
    # Head (8 bytes) and time tag (8 bytes), then elements: int32 size + content.
    if len(bundle) < 16:
        return "truncated bundle header"
    index, end = 16, len(bundle)
    while index < end:
        if index + 4 > end:
            return "truncated element size"
        (size,) = _INT32.unpack_from(bundle, index)
        index += 4
        if size <= 0 or index + size > end:
            return f"element of {size} bytes does not fit in the {end - index} left"
        element = bundle[index:index + size]
        index += size
        if element[:1] == b"/":
            messages.append(element)
        elif element.startswith(_BUNDLE_HEAD):
            why = _collect_messages(element, depth + 1, messages)
            if why:
                return why
        else:
            return f"element is neither a message nor a bundle: {_preview(element)}"
    return ""


def _shorten(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def _preview(data: bytes, limit: int = 24) -> str:
    """A short, printable view of raw bytes for a message to the user."""
    shown = repr(bytes(data[:limit]))
    return shown + ("..." if len(data) > limit else "")


def _show_args(args: list, tags: str) -> str:
    """Arguments as the user sent them, each with its OSC type: `'abc' (string)`."""
    names, depth = [], 0
    for tag in tags:
        # Only top-level tags pair with `args`; an array's contents are inside its list.
        if depth == 0:
            names.append(_TAG_NAMES.get(tag, "value"))
        depth += (tag == "[") - (tag == "]")
    return ", ".join(f"{_shorten(repr(arg), 40)} ({name})" for arg, name in zip(args, names))
