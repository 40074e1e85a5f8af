"""MIDI input: controllers, keyboards and MIDI clock, posted as addresses like OSC's.

Place in the data flow: a controller -> (python-rtmidi callback thread) -> **sources/midi** ->
`post` into the show's inbox -> mappings -> params. Every event is an address, so one
`[[mappings]]` syntax serves MIDI and OSC alike (channels are 1-16, values are 0..1):

    /midi/<channel>/cc/<n>          a control change, 0..1 (14-bit pairs: finer; encoders:
                                    a signed change, one step = 1/127)
    /midi/<channel>/note/<n>        velocity 0..1 on note on, 0 on note off
    /midi/<channel>/bend            -1..1
    /midi/<channel>/pressure        channel aftertouch 0..1 (`/pressure/<note>`: polyphonic)
    /midi/<channel>/program         the program number 0..127; it also recalls scene n + 1

Only addresses the show uses are posted (a mapping, or learn: an unmapped control is offered
to `/livegan/learn/heard`). MIDI clock (24 per beat, start, stop, continue, song position)
becomes `/livegan/clock/sync` reports the show's clock follows when `[clock] source = "midi"`.

Ports are found by name (`port = "nanoKONTROL"`: part of the name, any case), by regular
expression (`port = "re:^Launch"`) or all (`port = "*"`, the default). A watcher thread looks at
the port list every `poll` seconds: a controller unplugged says so once, plugged back in it is
reopened and says so once. A name that matches nothing lists the ports there are.

Output (the port named by `output`, by default the one matching `port`): mapped values go back
to the controller that sends them (LED rings, motor faders) a few dozen times a second when they
change, except right after the control itself moved; `clock_out = true` sends MIDI clock that
follows the show's tempo.

Bad input never stops anything: running status is understood, stray bytes, SysEx and garbage are
counted and reported once per second by the rate-limited log.
"""
from __future__ import annotations

import math
import os
import re
import threading
import time
from collections import deque
from typing import Callable

from liveGAN.log import RateLimitedLog
from liveGAN.params import OSC_PREFIX

CLIENT_NAME = "liveGAN"
APIS = ("auto", "jack", "alsa", "coremidi", "windows")
ENCODER_MODES = ("twos", "offset", "signed")
FEEDBACK_HZ = 30.0
ECHO_GUARD_S = 0.3      # a control that just moved gets no feedback (motor faders fight back)
LEARN_REPEAT_S = 0.25   # an unmapped control is offered to learn at most this often
CLOCK_WINDOW = 96       # MIDI clock ticks the tempo is measured over (4 beats)
_RESTLESS_BPM = (20.0, 400.0)

# Bytes each channel message takes after its status byte (0x80..0xE0).
_DATA_BYTES = {0x80: 2, 0x90: 2, 0xA0: 2, 0xB0: 2, 0xC0: 1, 0xD0: 1, 0xE0: 2}
# System common messages and their data bytes; real-time ones (0xF8..0xFF) have none.
_SYSTEM_BYTES = {0xF1: 1, 0xF2: 2, 0xF3: 1, 0xF6: 0}

LOG_GARBAGE = "midi garbage"
LOG_PORT = "midi port"


def _api_number(api: str) -> int:
    import rtmidi

    return {"jack": rtmidi.API_UNIX_JACK, "alsa": rtmidi.API_LINUX_ALSA,
            "coremidi": rtmidi.API_MACOSX_CORE, "windows": rtmidi.API_WINDOWS_MM}[api]


def pick_api(api: str = "auto") -> int:
    """The rtmidi API for `api`; "auto" is the system's own, or JACK where ALSA's sequencer is
    missing (a container, a headless box with a JACK server)."""
    import rtmidi

    if api != "auto":
        return _api_number(api)
    compiled = rtmidi.get_compiled_api()
    if rtmidi.API_LINUX_ALSA in compiled and not os.path.exists("/dev/snd/seq") \
            and rtmidi.API_UNIX_JACK in compiled:
        return rtmidi.API_UNIX_JACK
    return rtmidi.API_UNSPECIFIED


class PortMatcher:
    """Which port names an option means: "*" (all), "re:<regex>", or part of a name (any case)."""

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self._regex = None
        if pattern.startswith("re:"):
            try:
                self._regex = re.compile(pattern[3:])
            except re.error as err:
                raise ValueError(f"midi: port {pattern!r} is not a regular expression: {err}")

    def __call__(self, name: str) -> bool:
        if self.pattern == "*":
            return True
        if self._regex is not None:
            return self._regex.search(name) is not None
        return self.pattern.casefold() in name.casefold()

    def pick(self, names: list[str], many: bool) -> list[str]:
        """The matching names (an exact name wins over partial matches; one unless `many`)."""
        if self.pattern in names:
            return [self.pattern]
        found = [n for n in names if self(n)]
        return found if many else found[:1]


class MidiDecoder:
    """Bytes from one port -> complete messages (status, data bytes), with running status.

    `feed(data)` returns the messages in `data`; bytes that belong to no message are counted in
    `stray` (the caller reports them). SysEx is skipped whole."""

    def __init__(self) -> None:
        self.running: int | None = None
        self.stray = 0
        self._in_sysex = False

    def feed(self, data) -> list[tuple[int, tuple]]:
        messages: list[tuple[int, tuple]] = []
        status, need, pending = self.running, 0, []
        if status is not None:
            need = _DATA_BYTES.get(status & 0xF0, 0)
        for byte in data:
            if not isinstance(byte, int) or not 0 <= byte <= 255:
                self.stray += 1
                continue
            if byte >= 0xF8:               # real-time: may sit anywhere, changes nothing
                messages.append((byte, ()))
                continue
            if byte == 0xF0:
                self._in_sysex, status, pending = True, None, []
                continue
            if byte == 0xF7:
                self._in_sysex = False
                continue
            if self._in_sysex and byte < 0x80:
                continue
            self._in_sysex = False
            if byte >= 0x80:
                if pending:
                    self.stray += len(pending)  # a message cut short
                pending = []
                if byte >= 0xF0:
                    status = byte
                    need = _SYSTEM_BYTES.get(byte, 0)
                    self.running = None          # system common cancels running status
                    if need == 0:
                        messages.append((byte, ()))
                        status = None
                else:
                    status = self.running = byte
                    need = _DATA_BYTES[byte & 0xF0]
                continue
            if status is None:
                self.stray += 1
                continue
            pending.append(byte)
            if len(pending) == need:
                messages.append((status, tuple(pending)))
                pending = []
                if status >= 0xF0:
                    status = None
        if pending:
            self.stray += len(pending)
        return messages


def decode_encoder(value: int, mode: str) -> int:
    """A relative encoder's CC value as a signed number of steps."""
    if mode == "twos":
        return value - 128 if value >= 64 else value
    if mode == "offset":
        return value - 64
    return -(value - 64) if value >= 64 else value   # signed bit: 64 + n is -n


class _Options:
    """The `[[inputs]] kind = "midi"` table, checked."""

    KEYS = ("port", "output", "channel", "high_res", "encoders", "encoder_mode", "clock_out",
            "program_scenes", "api", "virtual", "poll")

    def __init__(self, options: dict) -> None:
        options = dict(options)
        unknown = sorted(set(options) - set(self.KEYS))
        if unknown:
            raise ValueError(f"midi: unknown option(s) {', '.join(unknown)} "
                             f"(known: {', '.join(self.KEYS)})")
        self.port = _text(options, "port", "*")
        self.inputs = PortMatcher(self.port)
        output = options.get("output", None)
        if output is False or output is None:
            self.output = None if output is False or self.port == "*" else self.port
        else:
            self.output = _text(options, "output", "")
        self.outputs = PortMatcher(self.output) if self.output else None
        channel = options.get("channel", 0)
        if isinstance(channel, bool) or not isinstance(channel, int) or not 0 <= channel <= 16:
            raise ValueError(f"midi: channel must be 1..16 (0: all), not {channel!r}")
        self.channel = channel
        self.high_res = frozenset(_numbers(options, "high_res", 0, 31))
        self.encoders = frozenset(_numbers(options, "encoders", 0, 127))
        self.encoder_mode = options.get("encoder_mode", "twos")
        if self.encoder_mode not in ENCODER_MODES:
            raise ValueError(f"midi: encoder_mode must be one of {', '.join(ENCODER_MODES)}, "
                             f"not {self.encoder_mode!r}")
        self.clock_out = _flag(options, "clock_out", False)
        self.program_scenes = _flag(options, "program_scenes", True)
        self.virtual = _flag(options, "virtual", False)
        self.api = options.get("api", "auto")
        if self.api not in APIS:
            raise ValueError(f"midi: api must be one of {', '.join(APIS)}, not {self.api!r}")
        poll = options.get("poll", 1.0)
        if isinstance(poll, bool) or not isinstance(poll, (int, float)) \
                or not 0.05 <= poll <= 60:
            raise ValueError(f"midi: poll must be 0.05..60 seconds, not {poll!r}")
        self.poll = float(poll)


def _text(options: dict, key: str, default: str) -> str:
    value = options.get(key, default)
    if not isinstance(value, str) or not value or len(value) > 256 or not value.isprintable():
        raise ValueError(f"midi: {key} must be a port name, \"re:<regex>\" or \"*\", "
                         f"not {value!r}")
    return value


def _flag(options: dict, key: str, default: bool) -> bool:
    value = options.get(key, default)
    if not isinstance(value, bool):
        raise ValueError(f"midi: {key} must be true or false, not {value!r}")
    return value


def _numbers(options: dict, key: str, lo: int, hi: int) -> list[int]:
    value = options.get(key, [])
    if not isinstance(value, list) or any(isinstance(v, bool) or not isinstance(v, int)
                                          or not lo <= v <= hi for v in value):
        raise ValueError(f"midi: {key} must be a list of controller numbers {lo}..{hi}, "
                         f"not {value!r}")
    return value


class _Clock:
    """MIDI clock in: ticks -> tempo and beat, reported as syncs."""

    def __init__(self) -> None:
        self.ticks = 0
        self.playing: bool | None = None    # unknown until a start, stop or the first tick
        self.times: deque = deque(maxlen=CLOCK_WINDOW + 1)

    def bpm(self) -> float | None:
        times = self.times
        if len(times) < 7:
            return None
        period = (times[-1] - times[0]) / (len(times) - 1)
        bpm = 60.0 / (24.0 * period) if period > 0 else 0.0
        return bpm if _RESTLESS_BPM[0] <= bpm <= _RESTLESS_BPM[1] else None


class MidiSource:
    """MIDI controllers and MIDI clock (`[[inputs]] kind = "midi"`).

    Options: `port` (a name, "re:<regex>" or "*"), `output` (feedback and clock out; default the
    port's name, false for none), `channel` (1-16, 0 all), `high_res` (CC numbers 0-31 sent as
    14-bit pairs with n + 32), `encoders` (CC numbers of endless encoders) and `encoder_mode`
    (twos | offset | signed), `clock_out`, `program_scenes` (program change recalls a scene,
    default true), `api` (auto | jack | alsa | coremidi | windows), `virtual` (also open a port
    named liveGAN that other programs connect to), `poll` (seconds between port checks).
    """

    def __init__(self, options: dict) -> None:
        self.options = _Options(options)
        self._link = None
        self._log: Callable[[str, str], None] = RateLimitedLog()
        self._say: Callable[[str], None] = print
        self._post: Callable[..., bool] | None = None
        self._api = None
        self._probe_in = self._probe_out = None
        self._inputs: dict[str, object] = {}       # port name -> rtmidi.MidiIn
        self._decoders: dict[str, MidiDecoder] = {}
        self._output = None
        self._output_name: str | None = None
        self._virtual = None
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._said_missing = False
        self._said_missing_output = False
        self._msb: dict[tuple[int, int], int] = {}
        self._clock = _Clock()
        self._moved: dict[tuple[str, int, int], float] = {}   # (kind, channel, n) -> when
        self._sent: dict[tuple[str, int, int], int] = {}
        self._offered: dict[str, float] = {}
        self.events = 0
        self.stray = 0

    def params(self) -> list:
        return []

    def connect(self, link) -> None:
        self._link = link
        self._log, self._say = link.log, link.say

    # -- start and stop ---------------------------------------------------------------------

    def start(self, post: Callable[..., bool]) -> None:
        import rtmidi

        self._post = post
        self._api = pick_api(self.options.api)
        try:
            self._probe_in = rtmidi.MidiIn(self._api, CLIENT_NAME)
            self._probe_out = rtmidi.MidiOut(self._api, CLIENT_NAME)
        except Exception as err:  # noqa: BLE001 - rtmidi raises its own SystemError
            raise RuntimeError(f"MIDI is not available ({err}); on Linux without ALSA start a "
                               "JACK server (jackd -d dummy) or set api") from None
        if self.options.virtual:
            self._virtual = self._new_input()
            self._virtual.open_virtual_port(CLIENT_NAME)
            self._virtual.set_callback(self._callback, "virtual")
        self._stopping.clear()
        self._scan(first=True)
        self._spawn(self._watch, "liveGAN-midi-watch")
        if self.options.outputs is not None:
            self._spawn(self._feedback, "liveGAN-midi-feedback")
        if self.options.clock_out and self.options.outputs is not None:
            self._spawn(self._clock_out, "liveGAN-midi-clock")

    def stop(self) -> None:
        self._stopping.set()
        for thread in self._threads:
            thread.join(timeout=5.0)
        self._threads.clear()
        with self._lock:
            for name in list(self._inputs):
                self._close_input(name)
            if self._output is not None:
                try:
                    if self.options.clock_out:
                        self._output.send_message([0xFC])
                except Exception:  # noqa: BLE001
                    pass
                self._output.close_port()
                self._output = self._output_name = None
            if self._virtual is not None:
                self._virtual.close_port()
                self._virtual = None
        self._probe_in = self._probe_out = None

    def _spawn(self, target, name: str) -> None:
        thread = threading.Thread(target=self._guard(target), name=name, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _guard(self, target):
        def run() -> None:
            while not self._stopping.is_set():
                try:
                    target()
                    return
                except Exception as err:  # noqa: BLE001 - a MIDI thread outlives anything
                    self._log(LOG_PORT, f"MIDI: {type(err).__name__}: {err}")
                    self._stopping.wait(0.5)
        return run

    def _new_input(self):
        import rtmidi

        port = rtmidi.MidiIn(self._api, CLIENT_NAME)
        # SysEx is dropped before Python sees it (a SysEx flood costs nothing here); MIDI clock
        # is wanted.
        port.ignore_types(sysex=True, timing=False, active_sense=True)
        return port

    # -- ports: found, lost, found again -------------------------------------------------------

    @staticmethod
    def _foreign(names: list[str]) -> list[str]:
        """Port names that are not this program's own ports."""
        return [n for n in names if not n.startswith(CLIENT_NAME)]

    def _watch(self) -> None:
        while not self._stopping.wait(self.options.poll):
            self._scan(first=False)

    def _scan(self, first: bool) -> None:
        with self._lock:
            if self._stopping.is_set() and not first:
                return
            inputs = self._foreign(list(self._probe_in.get_ports()))
            wanted = self.options.inputs.pick(inputs, many=True)
            for name in [n for n in self._inputs if n not in inputs]:
                self._close_input(name)
                self._say(f"MIDI: {name} disconnected; waiting for it to come back")
            for name in wanted:
                if name not in self._inputs:
                    self._open_input(name, inputs.index(name), first)
            if not wanted and not self._inputs and not self._said_missing:
                self._said_missing = True
                there = ", ".join(inputs) or "none"
                self._say(f"MIDI: no input port matches {self.options.port!r} (ports: {there}); "
                          "waiting for it")
            if wanted:
                self._said_missing = False
            self._scan_output()

    def _open_input(self, name: str, index: int, first: bool) -> None:
        port = self._new_input()
        try:
            port.open_port(index, "in")
        except Exception as err:  # noqa: BLE001
            self._log(LOG_PORT, f"MIDI: could not open {name}: {err}")
            return
        self._decoders[name] = MidiDecoder()
        port.set_callback(self._callback, name)
        self._inputs[name] = port
        self._say(f"MIDI: {'listening to' if first else 'connected'} {name}")

    def _close_input(self, name: str) -> None:
        port = self._inputs.pop(name, None)
        self._decoders.pop(name, None)
        if port is not None:
            try:
                port.cancel_callback()
                port.close_port()
            except Exception:  # noqa: BLE001 - a port that is already gone
                pass

    def _scan_output(self) -> None:
        matcher = self.options.outputs
        if matcher is None:
            return
        outputs = self._foreign(list(self._probe_out.get_ports()))
        if self._output_name is not None and self._output_name not in outputs:
            self._output.close_port()
            self._output, self._output_name = None, None
        if self._output is None:
            found = matcher.pick(outputs, many=False)
            if found:
                import rtmidi

                port = rtmidi.MidiOut(self._api, CLIENT_NAME)
                try:
                    port.open_port(outputs.index(found[0]), "out")
                except Exception as err:  # noqa: BLE001
                    self._log(LOG_PORT, f"MIDI: could not open output {found[0]}: {err}")
                    return
                self._output, self._output_name = port, found[0]
                self._sent.clear()
                self._said_missing_output = False
                if self.options.clock_out:
                    port.send_message([0xFA])
            elif not self._said_missing_output and self.options.output != self.options.port:
                self._said_missing_output = True
                self._say(f"MIDI: no output port matches {self.options.output!r} "
                          f"(ports: {', '.join(outputs) or 'none'}); waiting for it")

    @property
    def ports(self) -> list[str]:
        """The input ports open now."""
        return sorted(self._inputs)

    @property
    def output_port(self) -> str | None:
        return self._output_name

    # -- input: the rtmidi callback thread ------------------------------------------------------

    def _callback(self, event, name) -> None:
        now = time.perf_counter()
        try:
            decoder = self._decoders.get(name)
            if decoder is None:
                if name != "virtual":
                    return
                decoder = self._decoders.setdefault("virtual", MidiDecoder())
            data = event[0]
            stray = decoder.stray
            for status, values in decoder.feed(data):
                self._message(status, values, now)
            if decoder.stray != stray:
                self.stray += decoder.stray - stray
                self._log(LOG_GARBAGE, f"MIDI {name}: ignored {decoder.stray - stray} byte(s) "
                                       f"that are not MIDI: {bytes(b & 0xFF for b in data[:12])!r}")
        except Exception as err:  # noqa: BLE001 - a callback that raises would be lost anyway
            self._log(LOG_GARBAGE, f"MIDI {name}: ignored a message ({type(err).__name__}: "
                                   f"{err})")

    def _message(self, status: int, data: tuple, now: float) -> None:
        if status >= 0xF0:
            self._system(status, data, now)
            return
        kind, channel = status & 0xF0, (status & 0x0F) + 1
        if self.options.channel and channel != self.options.channel:
            return
        self.events += 1
        base = f"/midi/{channel}"
        if kind == 0xB0:
            self._control_change(base, channel, data[0], data[1], now)
        elif kind == 0x90 or kind == 0x80:
            velocity = data[1] if kind == 0x90 else 0
            self._moved[("note", channel, data[0])] = now
            self._emit(f"{base}/note/{data[0]}", velocity / 127.0, "note")
        elif kind == 0xE0:
            bend = ((data[1] << 7) | data[0]) - 8192
            self._emit(f"{base}/bend", max(-1.0, bend / 8191.0) if bend < 0 else bend / 8191.0,
                       "bend")
        elif kind == 0xD0:
            self._emit(f"{base}/pressure", data[0] / 127.0, "pressure")
        elif kind == 0xA0:
            self._emit(f"{base}/pressure/{data[0]}", data[1] / 127.0, "pressure")
        elif kind == 0xC0:
            self._emit(f"{base}/program", data[0], "program")
            if self.options.program_scenes:
                self._send(f"{OSC_PREFIX}/scene/recall", data[0] + 1)

    def _control_change(self, base: str, channel: int, number: int, value: int,
                        now: float) -> None:
        opts = self.options
        if number in opts.encoders:
            steps = decode_encoder(value, opts.encoder_mode)
            if steps:
                self._moved[("cc", channel, number)] = now
                self._emit(f"{base}/cc/{number}", steps / 127.0, "relative")
            return
        if number in opts.high_res:                  # MSB: the LSB starts again from 0
            self._msb[(channel, number)] = value
            self._moved[("cc", channel, number)] = now
            self._emit(f"{base}/cc/{number}", (value << 7) / 16383.0, "cc14")
            return
        if 32 <= number < 64 and number - 32 in opts.high_res:
            msb = self._msb.get((channel, number - 32), 0)
            self._moved[("cc", channel, number - 32)] = now
            self._emit(f"{base}/cc/{number - 32}", ((msb << 7) | value) / 16383.0, "cc14")
            return
        self._moved[("cc", channel, number)] = now
        self._emit(f"{base}/cc/{number}", value / 127.0, "cc")

    def _emit(self, address: str, value: float, kind: str) -> None:
        """Post `address value` if the show uses it, else offer it to learn."""
        routes = self._link.routes() if self._link is not None else None
        if routes is None or address in routes:
            self._post(address, value)
            return
        heard = f"{OSC_PREFIX}/learn/heard"
        if heard in routes:
            now = time.monotonic()
            if now - self._offered.get(address, -1.0) >= LEARN_REPEAT_S:
                if len(self._offered) > 4096:
                    self._offered.clear()
                self._offered[address] = now
                self._post(heard, address, value, kind)

    def _send(self, address: str, *values) -> None:
        routes = self._link.routes() if self._link is not None else None
        if routes is None or address in routes:
            self._post(address, *values)

    def _system(self, status: int, data: tuple, now: float) -> None:
        clock = self._clock
        if status == 0xF8:
            if clock.playing is None:
                clock.playing = True
            clock.times.append(now)
            if clock.playing:
                clock.ticks += 1
            self._sync(now)
        elif status == 0xFA:                     # start: from the top
            clock.ticks, clock.playing = 0, True
            self._sync(now)
        elif status == 0xFB:                     # continue
            clock.playing = True
            self._sync(now)
        elif status == 0xFC:                     # stop
            clock.playing = False
            self._sync(now)
        elif status == 0xF2:                     # song position, in sixteenths
            clock.ticks = ((data[1] << 7) | data[0]) * 6
            self._sync(now)

    def _sync(self, now: float) -> None:
        clock = self._clock
        bpm = clock.bpm()
        if bpm is None:
            return
        self._send(f"{OSC_PREFIX}/clock/sync", "midi", bpm, clock.ticks / 24.0, now,
                   1.0 if clock.playing else 0.0)

    # -- output: feedback and clock -----------------------------------------------------------

    def _feedback(self) -> None:
        """Send mapped values back to the controller when they change (LEDs, motor faders)."""
        from liveGAN.mappings import Mapping

        cache: tuple = ((), [])
        period = 1.0 / FEEDBACK_HZ
        while not self._stopping.wait(period):
            link, output = self._link, self._output
            if link is None or output is None:
                continue
            mappings = link.mappings()
            if mappings is not cache[0]:
                cache = (mappings, _feedback_targets(mappings, link.registry(), Mapping))
            values = link.snapshot().values
            now = time.perf_counter()
            for kind, channel, number, mapping in cache[1]:
                value = values.get(mapping.param.key)
                if value is None:
                    continue
                key = (kind, channel, number)
                if now - self._moved.get(key, -1e9) < ECHO_GUARD_S:
                    continue
                if kind == "note":
                    level = 127 if value >= 0.5 * (mapping.lo + mapping.hi) else 0
                else:
                    raw = min(max(mapping.unshape(value), 0.0), 1.0)
                    level = round(raw * (16383 if number in self.options.high_res else 127))
                if self._sent.get(key) == level:
                    continue
                self._sent[key] = level
                status = (0x90 if kind == "note" else 0xB0) | (channel - 1)
                try:
                    if kind == "cc" and number in self.options.high_res:
                        output.send_message([status, number, level >> 7])
                        output.send_message([status, number + 32, level & 0x7F])
                    else:
                        output.send_message([status, number, level])
                except Exception as err:  # noqa: BLE001 - a port that just went away
                    self._log(LOG_PORT, f"MIDI feedback: {err}")
                    break

    def _clock_out(self) -> None:
        """24 clock ticks per beat on the output, following the show's beat."""
        last = None
        while not self._stopping.is_set():
            link, output = self._link, self._output
            snapshot = link.snapshot() if link is not None else None
            if output is None or snapshot is None or snapshot.frame < 0 or snapshot.bpm <= 0:
                self._stopping.wait(0.05)
                continue
            now = time.perf_counter()
            beat = snapshot.beat + (now - snapshot.beat_at) * snapshot.bpm / 60.0
            tick = math.floor(beat * 24.0) + 1
            if last is not None and (tick <= last or tick > last + 24):
                if tick <= last:
                    tick = last + 1
            wait = (tick / 24.0 - beat) * 60.0 / snapshot.bpm
            if wait > 0.1:
                self._stopping.wait(0.05)   # look again: the tempo may change meanwhile
                continue
            if wait > 0:
                time.sleep(wait)
            try:
                output.send_message([0xF8])
            except Exception as err:  # noqa: BLE001
                self._log(LOG_PORT, f"MIDI clock out: {err}")
                self._stopping.wait(0.5)
            last = tick


def _feedback_targets(mappings, registry, mapping_class) -> list:
    """(kind, channel, number, Mapping) for each absolute or toggling MIDI mapping."""
    found = []
    for spec in mappings:
        match = re.fullmatch(r"/midi/(\d+)/(cc|note)/(\d+)", spec.source)
        param = registry.get(spec.target)
        if match is None or param is None or param.readonly or param.kind == "trigger" \
                or spec.mode == "relative":
            continue
        channel, kind, number = int(match[1]), match[2], int(match[3])
        if 1 <= channel <= 16 and 0 <= number <= 127:
            found.append((kind, channel, number, mapping_class(spec, param)))
    return found
