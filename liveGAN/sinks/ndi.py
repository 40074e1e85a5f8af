"""NDI out: the show as a named NDI source on the network, with the live audio input if there is
one, for Resolume, OBS, TouchDesigner, vMix on this machine or another.

Place in the data flow: the show's view -> shared readback -> **ndi sink** -> NDI (the optional
extra `pip install 'livegan[ndi]'`, ndi-python, which bundles the NDI runtime).

The show's thread only copies the frame's pixels into a free buffer (newest wins; a frame the
sender has not taken yet is replaced, never queued); a sender thread turns them into RGBX and
hands them to NDI, which compresses and sends on its own. The audio input's samples
(`liveGAN.pcm.PcmRing`) go out on the same thread, in blocks stamped with their capture time.
Video frames carry the show's time as their NDI timecode (100 ns units), so a receiver can tell
which frame is which.

NDI discovery on Linux goes through the Avahi daemon (mDNS); without it a receiver finds the
source by asking this machine directly (NDI's "extra IPs", `livegan devices --ndi-ip`).
Without NDI installed, or on a CPU it does not support, the output says so in one line and the
show goes on.
"""
from __future__ import annotations

import threading
import time
from typing import Callable

import numpy as np

from liveGAN.plugins import PluginError
from liveGAN.sinks.handoff import LatestFrame

TIMECODE_PER_SECOND = 10_000_000      # NDI timecodes count 100 ns
WATCH_CONNECTIONS_S = 0.25             # how often the sender looks for receivers coming and going
AUDIO_BLOCK_MAX = 4800                 # samples per NDI audio frame at most (0.1 s at 48 kHz)


class NdiUnavailable(PluginError):
    """NDI can't run here; the message is the one line the show says."""


def ndi_library():
    """The initialised NDI module, or NdiUnavailable saying why not."""
    try:
        import NDIlib
    except ImportError as err:
        raise NdiUnavailable("NDI is not installed here (pip install 'livegan[ndi]')"
                             + (f": {err}" if "NDIlib" not in str(err) else "")) from None
    except OSError as err:   # the bundled runtime does not load (a missing system library)
        raise NdiUnavailable(f"the NDI runtime does not load: {err}") from None
    if not NDIlib.initialize():
        raise NdiUnavailable("the NDI runtime does not run on this CPU (it needs SSE4.2)")
    return NDIlib


def ndi_problem() -> str | None:
    """Why NDI can't be used here, or None when it can."""
    try:
        ndi_library()
    except NdiUnavailable as err:
        return str(err)
    return None


def find_sources(extra_ips: list[str] = (), wait_ms: int = 1500) -> list[tuple[str, str]]:
    """(name, address) of the NDI sources seen within `wait_ms`, by mDNS and by asking the
    machines `extra_ips` directly."""
    ndi = ndi_library()
    settings = ndi.FindCreate()
    settings.show_local_sources = True
    if extra_ips:
        settings.extra_ips = ",".join(extra_ips)
    finder = ndi.find_create_v2(settings)
    if finder is None:
        raise NdiUnavailable("NDI could not start looking for sources")
    try:
        deadline = time.monotonic() + wait_ms / 1000.0
        sources = []
        while time.monotonic() < deadline:
            ndi.find_wait_for_sources(finder, max(1, int((deadline - time.monotonic()) * 1000)))
            sources = ndi.find_get_current_sources(finder)
        return [(s.ndi_name, s.url_address or "") for s in sources]
    finally:
        ndi.find_destroy(finder)


class NdiSink:
    """Sends the show as an NDI source (`[[outputs]] kind = "ndi"`).

    Options: `name` (the source's name, default "liveGAN"; receivers see "HOST (name)"),
    `audio` (default true: the live audio input goes along, when the show has one), `groups`
    (NDI groups, comma-separated; default NDI's own). Needs `pip install 'livegan[ndi]'`.
    """

    wants_pixels = True

    def __init__(self, options: dict) -> None:
        options = dict(options)
        self.name = options.pop("name", "liveGAN")
        self.audio = options.pop("audio", True)
        self.groups = options.pop("groups", None)
        if options:
            raise PluginError(f"ndi: unknown option(s) {', '.join(sorted(options))} "
                              "(known: name, audio, groups)")
        if not isinstance(self.name, str) or not self.name.strip():
            raise PluginError("ndi: name must be a non-empty string")
        if not isinstance(self.audio, bool):
            raise PluginError("ndi: audio must be true or false")
        if self.groups is not None and not isinstance(self.groups, str):
            raise PluginError("ndi: groups must be a comma-separated string")
        self._link = None
        self._log: Callable[[str], None] = print
        self._ndi = None
        self._sender = None
        self._thread: threading.Thread | None = None
        self._mailbox: LatestFrame | None = None
        self.frames_sent = 0
        self.send_ms: list[float] = []

    def connect(self, link) -> None:
        self._link = link
        self._log = link.say

    def open(self, size: tuple[int, int], fps: float) -> None:
        ndi = ndi_library()
        settings = ndi.SendCreate()
        settings.ndi_name = self.name
        settings.clock_video = False    # the show keeps time; NDI must never hold it up
        settings.clock_audio = False
        if self.groups:
            settings.groups = self.groups
        sender = ndi.send_create(settings)
        if sender is None:
            raise NdiUnavailable(f"NDI could not create the source {self.name!r}")
        self._ndi, self._sender = ndi, sender
        width, height = size
        self._mailbox = LatestFrame((height, width, 3))
        self._rgbx = np.full((height, width, 4), 255, np.uint8)
        self._video = ndi.VideoFrameV2()
        self._video.FourCC = ndi.FOURCC_VIDEO_TYPE_RGBX
        self._video.frame_rate_N, self._video.frame_rate_D = round(fps * 1000), 1000
        self._thread = threading.Thread(target=self._run, name=f"ndi {self.name}", daemon=True)
        self._thread.start()
        full = ndi.send_get_source_name(sender)
        self.source_name = getattr(full, "ndi_name", "") or self.name
        self._log(f"NDI: sending as {self.source_name!r}")

    @property
    def frames_replaced(self) -> int:
        """Frames the sender had no time for (a newer one took their place)."""
        return self._mailbox.replaced if self._mailbox is not None else 0

    def send(self, frame) -> None:
        """Copy the frame for the sender thread (the show's only cost)."""
        self._mailbox.put(frame.pixels(), frame.time)

    # -- the sender thread ----------------------------------------------------------------

    def _run(self) -> None:
        ndi, sender, mailbox = self._ndi, self._sender, self._mailbox
        connected, next_watch = 0, 0.0
        audio_cursor = None
        while not mailbox.closed:
            job = mailbox.take(0.05 if self.audio else 0.5)
            if job is not None:
                buffer, show_time = job
                started = time.perf_counter()
                self._rgbx[..., :3] = buffer
                mailbox.done(buffer)
                self._video.data = self._rgbx
                self._video.timecode = int(round(show_time * TIMECODE_PER_SECOND))
                ndi.send_send_video_v2(sender, self._video)
                self.frames_sent += 1
                self.send_ms.append((time.perf_counter() - started) * 1000)
                del self.send_ms[:-512]
            if self.audio:
                audio_cursor = self._send_audio(audio_cursor)
            now = time.monotonic()
            if now >= next_watch:
                next_watch = now + WATCH_CONNECTIONS_S
                count = ndi.send_get_no_connections(sender, 0)
                if count != connected:
                    what = f"{count} receiver(s) connected" if count else \
                        "no receiver connected any more; still sending"
                    self._log(f"NDI {self.name!r}: {what}")
                    connected = count

    def _send_audio(self, cursor: int | None) -> int | None:
        """Send what the audio input captured since `cursor`; returns the new cursor."""
        ring = self._link.audio() if self._link is not None else None
        if ring is None:
            return None
        if cursor is None:
            return ring.written   # start with what comes from now on
        read = ring.read(cursor, AUDIO_BLOCK_MAX)
        if len(read.samples) == 0:
            return cursor
        started_at = self._link.snapshot().started_at
        frame = self._ndi.AudioFrameV2()
        frame.sample_rate = ring.sample_rate
        frame.data = np.ascontiguousarray(read.samples.T)
        frame.timecode = int(round((ring.time_of(read.start) - started_at)
                                   * TIMECODE_PER_SECOND))
        self._ndi.send_send_audio_v2(self._sender, frame)
        return read.start + len(read.samples)

    def close(self) -> None:
        if self._thread is not None:
            self._mailbox.close()
            self._thread.join(5)
            self._thread = None
        if self._sender is not None:
            self._ndi.send_destroy(self._sender)
            self._sender = None
