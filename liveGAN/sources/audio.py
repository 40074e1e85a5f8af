"""Audio input: a sound card heard live, or a song for a render, as read-only `audio/...` params.

Place in the data flow: a microphone or line input -> PortAudio's callback (copies the block
into the shared `liveGAN.pcm.PcmRing`, nothing else) -> **the analysis thread** (the
`liveGAN.audio` analyser, one block at a time) -> `post("/audio/<feature>", value)` -> the
show's read-only `audio/...` params -> mappings, shader uniforms (`u_level`, `u_bass`, ...),
OSC feedback. The same ring is offered to the sinks that carry sound (`link.share_audio`): a
recording with `audio = true` muxes what the input heard.

`[[inputs]] kind = "audio"` options (all optional):
    device            "default", part of a device's name (any case), or its index
                      (`livegan devices` lists them)
    channels          how many input channels to open (default 2, at most the device's)
    channel           "mix" (the mean of the channels, default) or one channel, 1..channels
    sample_rate       Hz (default 48000; a device that refuses it runs at its own rate)
    block             samples per analysis step (default 512 at 48 kHz, scaled with the rate)
    latency           "low" (default), "high", or seconds: PortAudio's input buffering
    bands             [[low Hz, high Hz], ...]: three are named low/mid/high, others band_i
    log_bands         N log-spaced bands band_0..band_N-1 instead of `bands`
    onset_sensitivity 0..1 (default 0.5)      silence_db   -120..0 (default -60)
    bpm_range         [lowest, highest] BPM   tempo_window seconds of history (default 8)
    auto_gain         seconds a loud moment sets the 0..1 range (default 10)
    trigger_hold      seconds `onset` and `beat` stay 1 once they fire (default 0.05: at
                      least one display frame, so a show that reads them once a frame sees each)
    poll              seconds between looks for a missing device (default 1; doubling while
                      it stays away, up to 30)

A missing or unplugged device is said once, naming the inputs there are; the params then rest
at their silence values (level 0, silence 1...) and the source keeps looking, so the device is
taken up again when it comes back. Input overruns are counted (`overruns`), not printed.

For offline renders (`livegan render PATCH --audio FILE`), `SongFeed` gives the show the same
params, with each video frame's values from `liveGAN.audio.offline.analyse_file`.
"""
from __future__ import annotations

import atexit
import math
import os
import sys
import threading
import time
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any, Callable

import numpy as np

from liveGAN.audio.features import AudioAnalyzer, FeatureConfig, feature_range
from liveGAN.log import RateLimitedLog, quiet_stderr
from liveGAN.params import Param
from liveGAN.pcm import PcmRing
from liveGAN.plugins import number_option

RING_S = 10.0        # seconds of sound kept for the analysis and the recorder
WAKE_S = 0.1         # the analysis thread looks at its stream at least this often
STALL_S = 2.0        # no block for this long: the device is gone
FIRST_BLOCK_S = 5.0  # ... or, for a stream just opened, this long
RETRY_MAX_S = 30.0   # a missing device is looked for at most this far apart (after backing off)
CLOSE_WAIT_S = 3.0   # a close that takes longer is left to finish on its own thread
REFRESH_EVERY_S = 30.0  # PortAudio's device list is re-read at most this often while missing
LOG_KIND = "audio input"
LATENCIES = ("low", "high")
TRIGGERS = ("onset", "beat")

# Streams this module holds open, process-wide: PortAudio's device list is refreshed (which
# closes every stream in the process) only while there are none.
_open_streams = 0
_closing = 0   # ... of which this many are being closed (a close can hang for good)
_streams_lock = threading.Lock()
_exit_guarded = False


def feature_params(names) -> list[Param]:
    """The read-only `audio/<name>` params for the analyser's feature `names`."""
    params = []
    for name in names:
        lo, hi, rest, description = feature_range(name)
        params.append(Param("audio", name, "float", rest, lo, hi, 0.0, description,
                            readonly=True))
    return params


def rest_values(names) -> np.ndarray:
    """Each feature's value in silence (what the params hold with no sound coming in)."""
    return np.array([feature_range(name)[2] for name in names])


# -- options ------------------------------------------------------------------------------------


class _Options:
    """The `[[inputs]] kind = "audio"` table, checked; `config` is the analyser's."""

    KEYS = ("device", "channels", "channel", "sample_rate", "block", "latency", "bands",
            "log_bands", "onset_sensitivity", "silence_db", "bpm_range", "tempo_window",
            "auto_gain", "trigger_hold", "poll")

    def __init__(self, options: dict) -> None:
        unknown = sorted(set(options) - set(self.KEYS))
        if unknown:
            raise ValueError(f"audio: unknown option(s) {', '.join(unknown)} "
                             f"(known: {', '.join(self.KEYS)})")
        device = options.get("device", "default")
        if isinstance(device, bool) or not (
                (isinstance(device, int) and device >= 0)
                or (isinstance(device, str) and device.strip() and len(device) <= 256
                    and device.isprintable())):
            raise ValueError(f"audio: device must be \"default\", part of a device name or a "
                             f"device number (`livegan devices` lists them), not {device!r}")
        self.device: str | int = device
        self.channels = _integer(options, "channels", 2, 1, 64)
        channel = options.get("channel", "mix")
        if channel != "mix":
            channel = _integer(options, "channel", 1, 1, self.channels)
        self.channel: str | int = channel
        self.sample_rate = _integer(options, "sample_rate", 48000, 8000, 192000)
        block = options.get("block")
        if block is not None:
            block = _integer(options, "block", 512, 16, 16384)
        latency = options.get("latency", "low")
        if latency not in LATENCIES:
            latency = _number(options, "latency", 0.0, 0.001, 2.0)
        self.latency: str | float = latency
        self.trigger_hold = _number(options, "trigger_hold", 0.05, 0.0, 2.0)
        self.poll = _number(options, "poll", 1.0, 0.1, 60.0)
        settings: dict[str, Any] = dict(sample_rate=self.sample_rate, block=block)
        if "bands" in options:
            settings["bands"] = _bands(options["bands"])
        settings["n_log_bands"] = _integer(options, "log_bands", 0, 0, 64)
        settings["onset_sensitivity"] = _number(options, "onset_sensitivity", 0.5, 0.0, 1.0)
        settings["silence_db"] = _number(options, "silence_db", -60.0, -120.0, 0.0)
        if "bpm_range" in options:
            settings["bpm_range"] = _pair(options["bpm_range"], "bpm_range")
        settings["tempo_window_s"] = _number(options, "tempo_window", 8.0, 3.0, 60.0)
        settings["auto_gain_s"] = _number(options, "auto_gain", 10.0, 0.1, 600.0)
        self.config = FeatureConfig(**settings)
        try:
            self.config.check()
        except ValueError as err:
            raise ValueError(f"audio: {err}") from None
        self.block = block  # None: the default for whatever rate the device runs at

    def config_at(self, rate: int) -> FeatureConfig:
        """The analyser's settings at the rate the device really runs at."""
        return self.config if rate == self.config.sample_rate else \
            replace(self.config, sample_rate=rate)


def _integer(options: dict, key: str, default: int, lo: int, hi: int) -> int:
    return number_option("audio", options, key, default, lo, hi, integer=True)


def _number(options: dict, key: str, default: float, lo: float, hi: float) -> float:
    return number_option("audio", options, key, default, lo, hi)


def _pair(value: Any, key: str) -> tuple[float, float]:
    if not (isinstance(value, list) and len(value) == 2
            and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                    and math.isfinite(v) for v in value)):
        raise ValueError(f"audio: {key} must be two numbers [low, high], not {value!r}")
    return float(value[0]), float(value[1])


def _bands(value: Any) -> tuple[tuple[float, float], ...]:
    if not isinstance(value, list) or not 1 <= len(value) <= 64:
        raise ValueError(f"audio: bands must be a list of [low Hz, high Hz] pairs, not {value!r}")
    return tuple(_pair(band, "each of bands") for band in value)


# -- PortAudio -------------------------------------------------------------------------------


def portaudio():
    """The sounddevice module, imported with libjack told not to start a server and the ALSA
    and JACK chatter of PortAudio's start kept off the terminal. OSError without PortAudio."""
    loaded = sys.modules.get("sounddevice")
    if loaded is None:
        os.environ.setdefault("JACK_NO_START_SERVER", "1")
        with quiet_stderr():
            import sounddevice as loaded
    _guard_exit()   # also when another module imported sounddevice first
    return loaded


class _Own:
    """What one stream's callback writes to: its own ring, and the stream itself once open
    (the callback delivers only while that stream is the input's current one)."""

    __slots__ = ("ring", "stream")

    def __init__(self, ring: PcmRing) -> None:
        self.ring, self.stream = ring, None


def _guard_exit() -> None:
    """Run `leave_now_if_a_close_hangs` at exit before sounddevice's own handler (at-exit
    handlers run last registered first; this one is registered after sounddevice's import)."""
    global _exit_guarded
    if not _exit_guarded:
        _exit_guarded = True
        atexit.register(leave_now_if_a_close_hangs, 1)


def leave_now_if_a_close_hangs(status: int, wait: float = 1.0) -> None:
    """End the process now with `status` if closing a stream still hangs. PortAudio's shutdown
    (sounddevice's at-exit handler) closes every stream once more and would wait for that one
    forever: seen when a sound server dies under a stream, and libpulse deadlocks between its
    mainloop and PortAudio's thread. A show must always quit, so the process leaves without
    that shutdown, after every other at-exit handler has run (a recording is still finished
    and renamed). Skipping the shutdown and letting Python end on its own is not enough:
    JACK's client thread, never closed, then runs into unloaded code (a segfault).
    `livegan` calls this with its own exit status; the at-exit fallback says 1, because the
    status is not known there. Does nothing when no close hangs."""
    deadline = time.monotonic() + wait
    while _closing and time.monotonic() < deadline:
        time.sleep(0.02)
    if not _closing:
        return
    print(f"audio input: {_closing} sound device(s) never finished closing (a sound server "
          "that went away?); leaving without PortAudio's shutdown, which would wait for them "
          "forever", file=sys.stderr)
    sd = sys.modules.get("sounddevice")
    if sd is not None and hasattr(sd, "_exit_handler"):
        atexit.unregister(sd._exit_handler)
    atexit.unregister(leave_now_if_a_close_hangs)
    run_the_others = getattr(atexit, "_run_exitfuncs", None)   # CPython's; absent: skipped
    if run_the_others is not None:
        run_the_others()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001 - a closed pipe: nothing more can be said anyway
            pass
    os._exit(status)


def _refresh_device_list(sd) -> None:
    """Make PortAudio look at the devices again (it lists them once, when it starts): a device
    plugged in since then appears. Restarting PortAudio closes every stream in the process, so
    this runs only while this module holds none open."""
    with _streams_lock:
        if _open_streams or not hasattr(sd, "_terminate"):
            return
        with quiet_stderr():
            sd._terminate()
            sd._initialize()


def input_devices(sd) -> list[dict]:
    """Every device with input channels, as sounddevice describes them."""
    return [d for d in sd.query_devices() if d["max_input_channels"] > 0]


def find_device(sd, wanted: str | int) -> dict | None:
    """The input device `wanted` names: "default", an index, an exact name (any case) or the
    first whose name contains it."""
    inputs = input_devices(sd)
    if wanted == "default":
        try:
            device = sd.query_devices(kind="input")
        except Exception:  # noqa: BLE001 - PortAudioError: no default input here
            return None
        return device if device["max_input_channels"] > 0 else None
    if isinstance(wanted, int):
        return next((d for d in inputs if d["index"] == wanted), None)
    folded = wanted.casefold()
    exact = [d for d in inputs if d["name"].casefold() == folded]
    return (exact or [d for d in inputs if folded in d["name"].casefold()] or [None])[0]


def _takes(sd, device: dict, channels: int, rate: int) -> bool:
    try:
        sd.check_input_settings(device=device["index"], channels=channels, samplerate=rate,
                                dtype="float32")
        return True
    except Exception:  # noqa: BLE001 - PortAudioError, ValueError: it doesn't
        return False


def describe_inputs(sd) -> str:
    """`1 'pulse', 2 'default'`: the inputs there are, for a message."""
    found = ", ".join(f"{d['index']} {d['name']!r}" for d in input_devices(sd))
    return found or "none"


# -- the live source -----------------------------------------------------------------------------


class TriggerPulses:
    """A trigger feature (onset, beat) as a 0/1 value that a show reading it once a display
    frame never misses: each trigger is 1 for `hold` seconds, then 0 at least as long, so every
    one is a rising edge of its own. Triggers that come faster (several in one burst of blocks
    after the machine stalled) wait their turn, a few at most."""

    MAX_WAITING = 4

    def __init__(self, hold: float) -> None:
        self.hold = hold
        self.reset()

    def reset(self) -> None:
        self.on, self.until, self.waiting = False, 0.0, 0

    def fire(self) -> None:
        self.waiting = min(self.waiting + 1, self.MAX_WAITING)

    def value(self, now: float) -> float:
        """The value to publish at `now` (perf_counter seconds)."""
        if self.on and now >= self.until:
            self.on, self.until = False, now + self.hold
        if not self.on and self.waiting and now >= self.until:
            self.on, self.until, self.waiting = True, now + self.hold, self.waiting - 1
        return 1.0 if self.on else 0.0


class AudioSource:
    """Live audio input analysed into `audio/...` params (`[[inputs]] kind = "audio"`).

    Options: `device`, `channels`, `channel`, `sample_rate`, `block`, `latency`, `bands`,
    `log_bands`, `onset_sensitivity`, `silence_db`, `bpm_range`, `tempo_window`, `auto_gain`,
    `trigger_hold`, `poll` (see the module docstring).
    """

    def __init__(self, options: dict) -> None:
        self.options = _Options(options)
        self.names = AudioAnalyzer(self.options.config).features.names()
        self._index = {name: i for i, name in enumerate(self.names)}
        self._addresses = [f"/audio/{name}" for name in self.names]
        self._rest = rest_values(self.names)
        self._link = None
        self._say: Callable[[str], None] = lambda message: print(message, flush=True)
        self._log: Callable[[str, str], None] = RateLimitedLog()
        self._post: Callable[..., bool] | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._ready = threading.Event()
        self._stream = None
        self.ring: PcmRing | None = None
        self.analyzer: AudioAnalyzer | None = None
        self.device_name: str | None = None
        self.sample_rate = 0
        self._cursor = 0
        self._pick: int | None = None
        self._opened_at = 0.0
        self._last_block_at = 0.0
        self._sent = np.full(len(self.names), np.nan)
        self._out = self._rest.copy()
        self._pulses = {name: TriggerPulses(self.options.trigger_hold) for name in TRIGGERS}
        self._said_missing = False
        self._said_no_portaudio = False
        self._last_refresh = 0.0
        self._failed_opens = 0
        self._heard_before = False
        self.overruns = 0        # blocks PortAudio says the input lost (the machine was late)
        self.skipped = 0         # samples the analysis fell too far behind to look at
        self.blocks = 0          # blocks analysed, over every stream opened
        self._blocks_before = 0  # ... before the stream now open

    def params(self) -> list[Param]:
        return feature_params(self.names)

    def connect(self, link) -> None:
        self._link = link
        self._say, self._log = link.say, link.log

    @property
    def listening(self) -> bool:
        """Whether a device is open and delivering."""
        return self._stream is not None

    @property
    def input_latency(self) -> float | None:
        """Seconds of input buffering PortAudio reports for the open device (None: none open)."""
        stream = self._stream
        return float(stream.latency) if stream is not None else None

    # -- start and stop ---------------------------------------------------------------------

    def start(self, post: Callable[..., bool]) -> None:
        self._post = post
        self._stopping.clear()
        self._publish(time.perf_counter())          # silence until a device is heard
        self._thread = threading.Thread(target=self._run, name="liveGAN-audio-analysis",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._ready.set()
        if self._thread is not None:
            self._thread.join(timeout=10.0)
            self._thread = None
        self._close_stream()
        if self.overruns:
            self._say(f"audio input: {self.overruns} input overruns during the show (blocks "
                      "lost because the machine was too busy to take them in time)")

    # -- the analysis thread ----------------------------------------------------------------

    def _retry_wait(self) -> float:
        """Seconds until the next look for a missing device: `poll`, doubling with each look
        that finds nothing, up to RETRY_MAX_S (a machine with no sound card is not asked
        every second for the whole show: each look costs PortAudio time and memory)."""
        self._failed_opens += 1
        return min(self.options.poll * 2.0 ** min(self._failed_opens - 1, 10), RETRY_MAX_S)

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                if self._stream is None:
                    # PortAudio's backends (ALSA, JACK) print to the process's stderr when a
                    # device is not there: keep that off the performer's terminal.
                    with quiet_stderr():
                        opened = self._open()
                    if opened:
                        self._failed_opens = 0
                    else:
                        self._stopping.wait(self._retry_wait())
                    continue
                self._ready.wait(WAKE_S)
                self._ready.clear()
                if self._stream is None or self._stopping.is_set():
                    continue
                if self._stalled(time.perf_counter()):
                    self._say(f"audio input: {self.device_name!r} stopped delivering sound "
                              "(unplugged?); playing silent until it is back")
                    self._lose()
                    continue
                self._analyse()
            except Exception as err:  # noqa: BLE001 - the input outlives anything; the show too
                self._log(LOG_KIND, f"audio input: {type(err).__name__}: {err}")
                self._lose()
                self._stopping.wait(self._retry_wait())

    def _stalled(self, now: float) -> bool:
        stream = self._stream
        if stream is not None and not stream.active:
            return True   # PortAudio ended the stream (a host error)
        if self._last_block_at == 0.0:
            return now - self._opened_at > FIRST_BLOCK_S
        return now - self._last_block_at > STALL_S

    def _analyse(self) -> None:
        """Analyse every whole block that came in, then publish the newest features."""
        ring, analyzer = self.ring, self.analyzer
        read = ring.read(self._cursor)
        self._cursor = read.start + len(read.samples)
        self.skipped += read.skipped
        samples = read.samples if self._pick is None else read.samples[:, self._pick]
        block = analyzer.block
        values = analyzer.features.values
        for start in range(0, len(samples), block):
            # One block at a time: a trigger in an earlier block must not be lost behind a
            # later one (`process` returns only the newest block's features).
            analyzer.process(samples[start:start + block])
            for name, pulses in self._pulses.items():
                if values[self._index[name]] > 0.5:
                    pulses.fire()
        self.blocks = self._blocks_before + int(round(analyzer.time_s / analyzer.hop_s))
        np.copyto(self._out, values)
        self._publish(time.perf_counter())

    def _publish(self, now: float) -> None:
        """Post the values that changed since the last post; triggers as held pulses (the
        show's inbox keeps only the newest value of each address, and the show looks once a
        display frame)."""
        out = self._out
        for name, pulses in self._pulses.items():
            out[self._index[name]] = pulses.value(now)
        post, sent = self._post, self._sent
        if post is None:
            return
        for i in np.flatnonzero(out != sent):
            post(self._addresses[i], float(out[i]))
            sent[i] = out[i]

    def _lose(self) -> None:
        """The device is gone (or failed): rest at silence, then close it (in that order:
        closing a device whose sound server has gone can take seconds, and the params must not
        hold the last sound heard meanwhile)."""
        np.copyto(self._out, self._rest)
        for pulses in self._pulses.values():
            pulses.reset()
        self._publish(time.perf_counter())
        self._close_stream()

    # -- the device -------------------------------------------------------------------------

    def _open(self) -> bool:
        """Open the device if it is there; False (said once) when it is not."""
        options = self.options
        try:
            sd = portaudio()
        except OSError as err:
            if not self._said_no_portaudio:
                self._said_no_portaudio = True
                self._say(f"audio input: PortAudio is not available ({err}); playing silent "
                          "(install libportaudio2)")
            return False
        device = find_device(sd, options.device)
        now = time.perf_counter()
        if device is None and (not self._said_missing
                               or now - self._last_refresh > REFRESH_EVERY_S):
            # Plugged in since PortAudio listed the devices? Look again (not too often: it
            # costs a few hundred milliseconds of this thread's time).
            self._last_refresh = now
            _refresh_device_list(sd)
            device = find_device(sd, options.device)
        if device is None:
            wanted = "default input" if options.device == "default" else \
                f"input device {options.device!r}"
            self._missing(f"no {wanted} here (inputs: {describe_inputs(sd)}; `livegan "
                          "devices` lists them)")
            return False
        return self._start_stream(sd, device)

    def _missing(self, why: str) -> None:
        """Say once (until the device is heard again) why there is no sound."""
        if not self._said_missing:
            self._said_missing = True
            self._say(f"audio input: {why}; playing silent and listening for it to come")

    def _start_stream(self, sd, device: dict) -> bool:
        options = self.options
        channels = min(options.channels, int(device["max_input_channels"]))
        pick = None
        if options.channel != "mix":
            if options.channel > channels:
                self._log(LOG_KIND, f"audio input: {device['name']!r} has {channels} input "
                                    f"channels, not a channel {options.channel}; mixing them")
            else:
                pick = options.channel - 1
        rate = options.sample_rate
        own = int(device["default_samplerate"])
        if own != rate and not _takes(sd, device, channels, rate) \
                and _takes(sd, device, channels, own):
            self._log(LOG_KIND, f"audio input: {device['name']!r} does not take {rate} Hz; "
                                f"listening at its {own} Hz")
            rate = own
        config = options.config_at(rate)
        analyzer = AudioAnalyzer(config)
        ring = PcmRing(rate, channels, RING_S)
        self.ring, self.analyzer, self._pick, self._cursor = ring, analyzer, pick, 0
        self._blocks_before = self.blocks
        own = _Own(ring)
        try:
            stream = sd.InputStream(device=device["index"], channels=channels,
                                    samplerate=rate, blocksize=analyzer.block,
                                    dtype="float32", latency=options.latency,
                                    callback=partial(self._callback, own))
        except Exception as err:  # noqa: BLE001 - busy, or its sound server is down
            self._missing(f"{device['name']!r} does not open ({err})")
            return False
        global _open_streams
        with _streams_lock:
            _open_streams += 1
        self._stream = own.stream = stream
        self._opened_at, self._last_block_at = time.perf_counter(), 0.0
        stream.start()
        self.device_name, self.sample_rate = device["name"], rate
        if self._link is not None:
            self._link.share_audio(ring)
        mixed = f"channel {pick + 1}" if pick is not None else \
            ("mono" if channels == 1 else f"{channels} channels mixed")
        if self._heard_before:
            self._say(f"audio input: {device['name']!r} is back ({rate} Hz, {mixed})")
        else:
            self._say(f"audio input: listening to {device['name']!r} (device "
                      f"{device['index']}, {rate} Hz, {mixed}, blocks of {analyzer.block} = "
                      f"{1000 * analyzer.hop_s:.1f} ms)")
        self._heard_before, self._said_missing = True, False
        return True

    def _callback(self, own: "_Own", indata, frames, time_info, status) -> None:
        """PortAudio's thread: copy the block into its stream's ring and wake the analysis.
        Nothing else happens here (no analysis, no printing, no new arrays). A stream let go
        (being closed, perhaps while the next one is already open) can still deliver a block:
        it is dropped, never written into the next stream's ring at the next stream's time."""
        stream = own.stream
        if stream is None or stream is not self._stream:
            return
        if status.input_overflow:
            self.overruns += 1
        now = time.perf_counter()
        own.ring.write(indata, PcmRing.capture_time(now, stream.time,
                                                    time_info.inputBufferAdcTime))
        self._last_block_at = now
        self._ready.set()

    def _close_stream(self) -> None:
        """Close the open stream, waiting at most CLOSE_WAIT_S for it. Closing a device whose
        sound server has gone can hang inside PortAudio; the close then finishes (or not) on a
        thread of its own, and the input goes on looking for the device meanwhile."""
        stream, name = self._stream, self.device_name
        if stream is None:
            return
        if self._link is not None and self._link.audio() is self.ring:
            self._link.share_audio(None)
        self._stream = None
        closed = threading.Event()
        global _closing
        with _streams_lock:
            _closing += 1

        def close() -> None:
            global _open_streams, _closing
            try:
                stream.abort()   # the callback has run for the last time when this returns
                stream.close()
            except Exception as err:  # noqa: BLE001 - a vanished device may not close cleanly
                self._log(LOG_KIND, f"audio input: closing {name!r}: {err}")
            finally:
                # Counted open until PortAudio lets go of it: its device list is refreshed
                # (PortAudio restarted) only when no stream is open.
                with _streams_lock:
                    _open_streams -= 1
                    _closing -= 1
                closed.set()

        threading.Thread(target=close, name="liveGAN-audio-close", daemon=True).start()
        if not closed.wait(CLOSE_WAIT_S):
            self._log(LOG_KIND, f"audio input: closing {name!r} is taking over "
                                f"{CLOSE_WAIT_S:g} s (its sound server may have gone); going on "
                                "without waiting for it")


# -- a song, for offline renders ----------------------------------------------------------------


class SongFeed:
    """A song's features, frame by frame, for an offline render (`livegan render --audio`).

    `analysis` is `liveGAN.audio.offline.analyse_file`'s result at the render's frame rate;
    `path` is the file (the render muxes its sound). The show reads `params()` (the same
    `audio/...` params a live input publishes) and, every frame, `posts(frame)`: that frame's
    values as the events a live input would have posted. Past the end of the song: silence.
    """

    def __init__(self, analysis, path: str | os.PathLike) -> None:
        self.analysis = analysis
        self.path = Path(path)
        self.names = tuple(analysis.names)
        self._addresses = [f"/audio/{name}" for name in self.names]
        self._rest = rest_values(self.names)

    @property
    def frames(self) -> int:
        return self.analysis.frames

    def params(self) -> list[Param]:
        return feature_params(self.names)

    def posts(self, frame: int) -> dict[str, tuple]:
        """Frame `frame`'s values as {address: (value,)}."""
        row = self.analysis.values[frame] if 0 <= frame < self.analysis.frames else self._rest
        return {address: (float(value),) for address, value in zip(self._addresses, row)}


def patch_audio_config(patch) -> FeatureConfig:
    """The analysis settings of the patch's first audio input (the defaults without one), so
    a render to a song hears it as the live show would. ValueError for bad options."""
    spec = next((s for s in patch.inputs if s.kind == "audio"), None)
    return _Options(spec.options).config if spec is not None else FeatureConfig()
