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

Bundles, nested ones included, are unpacked and their messages applied at once: a live
instrument has no use for scheduling by time tag.
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
# Ask for a big kernel receive buffer so a burst from a controller survives a frame-loop stall;
# Linux caps it at net.core.rmem_max.
_RECEIVE_BUFFER = 4 << 20
# Under a flood the receive thread would take a whole core and keep the frame loop waiting for
# the GIL. Every `_CHECK_EVERY` datagrams it looks at how long it has been busy without the
# socket running dry; past `_BUSY_S` it rests `_REST_RATIO` times that long, so it uses at most
# about 1 / (1 + _REST_RATIO) of a core. What arrives meanwhile waits in the socket buffer.
# Measured with bench/osc_flood.py.
_CHECK_EVERY = 32
_BUSY_S = 0.0005
_REST_RATIO = 1.0

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
        recv = sock.recv
        count, busy_since = 0, time.perf_counter()
        while not self._stopping:
            try:
                data = recv(_MAX_DATAGRAM)
            except BlockingIOError:
                select.select((sock, wake), (), (), 1.0)
                count, busy_since = 0, time.perf_counter()
                continue
            except OSError as err:
                self.log("osc receive", f"OSC receive failed on port {self.port}: {err}")
                time.sleep(0.01)
                continue
            self.received += 1
            try:
                if self._follow is not None:
                    self._refresh_routes()
                self._datagram(data)
            except Exception as err:  # noqa: BLE001 - the show goes on whatever arrives
                self._reject(LOG_MALFORMED, f"OSC: ignored a datagram that could not be read "
                                            f"({type(err).__name__}: {err})")
            count += 1
            if count >= _CHECK_EVERY:
                count = 0
                busy = time.perf_counter() - busy_since
                if busy >= _BUSY_S and _REST_RATIO > 0:
                    time.sleep(busy * _REST_RATIO)
                    busy_since = time.perf_counter()

    def _datagram(self, data: bytes) -> None:
        head = data[:1]
        if head == b"/":
            self._message(data)
        elif head == b"#" and data.startswith(_BUNDLE_HEAD):
            messages = self._unbundle(data)
            if messages is not None:
                for message in messages:
                    self._message(message)
        else:
            self._reject(LOG_MALFORMED, f"OSC: ignored a {len(data)}-byte datagram that is "
                                        f"neither a message nor a bundle: {_preview(data)}")

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
    "0.0.0.0" listens on the network too). Every parameter is `/livegan/<group>/<name>`;
    `livegan osc list PATCH` prints the address space.
    """

    def __init__(self, options: dict) -> None:
        options = dict(options)
        self.requested_port = options.pop("port", 9000)
        self.host = options.pop("host", "127.0.0.1")
        if options:
            raise ValueError(f"osc: unknown option(s) {', '.join(sorted(options))} "
                             "(known: port, host)")
        port = self.requested_port
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise ValueError(f"osc: port must be an integer 0..65535, not {port!r}")
        if not isinstance(self.host, str) or not self.host or "\x00" in self.host:
            raise ValueError(f"osc: host must be an address like \"127.0.0.1\", not "
                             f"{self.host!r}")
        self.server: OscServer | None = None
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
            self._link.say(f"OSC listening on {self.host}:{server.port}")

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

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
