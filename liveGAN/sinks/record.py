"""The video recorder: finished frames -> an H.264 file on disk.

Place in the data flow: the show's view -> shared readback -> **record sink** -> a file. The
show hands each presented frame to `RecordSink.send`, which passes its pixels to
`Recorder.write`; that only copies them into a preallocated buffer and queues them, and a worker
thread converts, encodes (x264 through PyAV) and muxes. The show never waits for the encoder:
when the queue is full the frame is dropped and counted (offline renders wait instead, so every
frame is in the file). The pixels come from the show's one asynchronous readback per frame
(`liveGAN.render.readback`), one frame late, so the readback does not stall the show either.

A show can end badly (power cut, a crash, SIGKILL), so the file must be playable at every moment:
- `.mp4` is written as fragmented MP4 (empty moov, one fragment per keyframe, a keyframe every
  second), so everything up to the last finished fragment decodes;
- `.mkv` (Matroska) writes a cluster at least every second as it goes.

Where the file goes, and why: while recording, frames go to `<name>.partial<ext>` beside the
target (e.g. `show.partial.mp4` for `show.mp4`); `close()` renames it to the target. So an
existing recording is never replaced by a half-written one, and a show that was killed leaves
its playable `.partial` file right beside where the recording was meant to be. A target that
already exists is refused unless `overwrite=True`; a leftover `.partial` file from an earlier
crash is never written over (the next free `<name>.partial-N<ext>` is used instead).
"""
from __future__ import annotations

import atexit
import os
import queue
import threading
import time
import weakref
from fractions import Fraction
from pathlib import Path
from typing import Callable

import numpy as np

# Container format for each supported extension, with the muxer options that keep a file
# playable if the process dies mid-recording.
CONTAINERS = {
    ".mp4": "mp4",
    ".mkv": "matroska",
}
DEFAULT_CODEC = "libx264"
# Encoders that need hardware; when one cannot open, the recorder falls back to DEFAULT_CODEC.
HARDWARE_SUFFIXES = ("_nvenc", "_qsv", "_amf", "_vaapi", "_videotoolbox")
# Frames at or below this many pixels get x264's `veryfast` (smaller files, still real time on
# two cores); bigger frames get `ultrafast`, whose cost is what keeps up at 1024² and above.
VERYFAST_MAX_PIXELS = 512 * 512
# How many recent per-frame encode times `encode_stats` looks at.
STATS_WINDOW = 256


class RecorderError(ValueError):
    """A recording that cannot start (bad path, size, codec); the message says what and where."""


def _free_partial_path(target: Path) -> Path:
    """`<stem>.partial<ext>` beside `target`, or `<stem>.partial-N<ext>` if that is taken
    (a leftover from a killed show is somebody's recording: never write over it)."""
    candidate = target.with_name(f"{target.stem}.partial{target.suffix}")
    number = 1
    while os.path.lexists(candidate):
        candidate = target.with_name(f"{target.stem}.partial-{number}{target.suffix}")
        number += 1
    return candidate


def free_path(target: Path) -> Path:
    """`target`, or `<stem>-N<ext>` if something is there already: a recording the user
    already has is never replaced, nor a symbolic link (even one pointing nowhere). The one
    rule for naming recordings."""
    candidate, number = target, 1
    while os.path.lexists(candidate):
        candidate = target.with_name(f"{target.stem}-{number}{target.suffix}")
        number += 1
    return candidate


def _codec_options(codec: str, quality: int, fps: float, pixels: int,
                   preset: str | None) -> dict[str, str]:
    """Encoder options for real time: a fast preset, constant quality, a keyframe every second.

    Every keyframe starts a new MP4 fragment, so the keyframe interval is also how much of the
    end of a recording a crash can cost.
    """
    keyframe_interval = str(max(1, round(fps)))
    if codec in ("libx264", "libx264rgb"):
        if preset is None:
            preset = "veryfast" if pixels <= VERYFAST_MAX_PIXELS else "ultrafast"
        # zerolatency: no lookahead and no B-frames, so each frame leaves the encoder at once
        # (nothing is held back in the encoder when the process dies).
        return {"preset": preset, "tune": "zerolatency", "crf": str(quality),
                "g": keyframe_interval}
    if codec.endswith("_nvenc"):
        return {"preset": preset or "p1", "tune": "ll", "rc": "vbr", "cq": str(quality),
                "g": keyframe_interval, "bf": "0"}
    return {"g": keyframe_interval}


def _container_options(format_name: str) -> dict[str, str]:
    """Muxer options that keep the file playable while it grows (see the module docstring)."""
    if format_name == "mp4":
        return {"movflags": "frag_keyframe+empty_moov+default_base_moof",
                "flush_packets": "1"}
    # Matroska: a new cluster every second at most, pushed to disk as it is finished.
    return {"cluster_time_limit": "1000", "flush_packets": "1"}


class Recorder:
    """Records frames to an H.264 video (`.mp4` or `.mkv`) on a frame grid of `fps`.

    `size` is (width, height) of the frames that will be written. H.264 in yuv420p needs even
    sizes: an odd width or height is padded by one row/column (a copy of the edge) and said once.
    `quality` is x264's CRF (0 lossless .. 51 worst; 18-23 looks good). `codec` defaults to
    libx264; `h264_nvenc` works where the machine has an NVIDIA encoder (where it cannot open,
    the recorder says so and uses libx264; `codec` tells which one runs). `preset` overrides the
    encoder preset chosen for real time (x264: `veryfast` up to 512², `ultrafast` above).
    `queue_frames` is how many frames may wait for the encoder before frames are dropped.

    `write` never blocks; `close` finishes the file and renames it into place. Frame `i` has
    presentation time `i / fps`, or `pts / fps` when `write` is given the frame's `pts`: then a
    frame that was not written (dropped, or never sent) leaves the one before on screen, and
    the video keeps its time line (a keyframe at least every second of it). When the encoder
    cannot keep up it says so once, with its cost per frame and what to change.
    """

    def __init__(self, path: str | os.PathLike, size: tuple[int, int], fps: float,
                 codec: str | None = None, quality: int = 20,
                 log: Callable[[str], None] = print, overwrite: bool = False,
                 queue_frames: int = 8, preset: str | None = None,
                 audio: tuple[int, int] | None = None) -> None:
        import av  # PyAV bundles FFmpeg; imported here so importing the module stays light

        self.log = log
        self.audio = audio  # (sample rate, channels) of an AAC sound track, fed by write_audio
        self.target = Path(path)
        self.path = self.target  # where the finished file ends up (set again by close)
        self.frames_written = 0
        self.frames_dropped = 0
        self._closed = False
        self._next_key = 0          # the first pts that must be a keyframe (a new fragment)
        self._last_write_at = None  # when write() last queued a frame, and the mean interval
        self._write_interval = 0.0
        self._said_dropping = False
        self._said_bad_frame = False
        self._failed = False

        format_name = CONTAINERS.get(self.target.suffix.lower())
        if format_name is None:
            raise RecorderError(f"recording {self.target}: unsupported file type "
                                f"{self.target.suffix or '(none)'!r}; use .mp4 or .mkv")
        folder = self.target.parent
        if not folder.is_dir():
            raise RecorderError(f"recording {self.target}: folder {folder} does not exist")
        if not os.access(folder, os.W_OK):
            raise RecorderError(f"recording {self.target}: folder {folder} is not writable")
        if os.path.lexists(self.target) and not overwrite:
            raise RecorderError(f"recording {self.target}: file exists; choose another name "
                                "or pass overwrite=True")
        width, height = (int(v) for v in size)
        if width <= 0 or height <= 0:
            raise RecorderError(f"recording {self.target}: frame size {size} must be positive")
        if not fps > 0:
            raise RecorderError(f"recording {self.target}: fps must be positive, not {fps}")
        if not 0 <= int(quality) <= 51:
            raise RecorderError(f"recording {self.target}: quality (x264 CRF) must be 0..51, "
                                f"not {quality}")
        codec = codec or DEFAULT_CODEC
        try:
            av.codec.Codec(codec, "w")
        except Exception:
            raise RecorderError(f"recording {self.target}: video codec {codec!r} is not "
                                "available in this FFmpeg build") from None

        self.size = (width, height)
        self.fps = fps
        self.overwrite = overwrite
        # yuv420p stores colour per 2x2 block: encode at the next even size.
        self.encoded_size = (width + width % 2, height + height % 2)
        if self.encoded_size != self.size:
            log(f"recording {self.target}: frame size {width}x{height} is odd; H.264 needs even "
                f"sizes, so frames are padded to {self.encoded_size[0]}x{self.encoded_size[1]}")

        self.partial_path = _free_partial_path(self.target)
        rate = Fraction(fps).limit_denominator(1001000)
        try:
            self._container, stream = self._open(av, format_name, codec, rate, int(quality),
                                                 preset)
        except Exception as error:
            if not codec.endswith(HARDWARE_SUFFIXES):
                raise RecorderError(f"recording {self.target}: could not start the encoder "
                                    f"{codec}: {error}") from None
            # A hardware encoder missing here (no GPU, driver too old): the plain path works.
            log(f"recording {self.target}: {codec} is not usable here ({error}); "
                f"using {DEFAULT_CODEC}")
            codec = DEFAULT_CODEC
            try:
                self._container, stream = self._open(av, format_name, codec, rate,
                                                     int(quality), preset=None)
            except Exception as error:
                raise RecorderError(f"recording {self.target}: could not start the encoder "
                                    f"{codec}: {error}") from None
        self.codec = codec
        self._stream = stream
        self._time_base = stream.codec_context.time_base
        self._av = av
        self._audio_work: queue.SimpleQueue = queue.SimpleQueue()

        # Buffers circulate between write() (fills a free one) and the worker (empties it),
        # so the per-frame path copies but never allocates.
        self._free: queue.SimpleQueue = queue.SimpleQueue()
        self._work: queue.Queue = queue.Queue(maxsize=queue_frames + 1)
        self._buffer_count = max(1, int(queue_frames))
        self._buffers_made = 0
        self._encode_ms = np.zeros(STATS_WINDOW)
        self._encode_count = 0

        self._worker = threading.Thread(target=self._run, name=f"recorder {self.target.name}",
                                        daemon=True)
        self._worker.start()
        # A show that exits without close() still gets a finished, renamed file.
        atexit.register(_close_at_exit, weakref.ref(self))
        log(f"recording to {self.target} (written as {self.partial_path.name} until closed)")

    def _open(self, av, format_name: str, codec: str, rate: Fraction, quality: int,
              preset: str | None):
        """The output container and its video stream with the encoder already open, so bad
        options fail here and not on the worker thread. Leaves no file behind on failure."""
        container = av.open(str(self.partial_path), mode="w", format=format_name,
                            options=_container_options(format_name))
        try:
            stream = container.add_stream(codec, rate=rate)
            stream.width, stream.height = self.encoded_size
            stream.pix_fmt = "yuv420p"
            stream.codec_context.time_base = 1 / rate
            stream.options = _codec_options(codec, quality, float(rate),
                                            self.size[0] * self.size[1], preset)
            stream.codec_context.open()
            if self.audio is not None:
                rate, channels = self.audio
                sound = container.add_stream("aac", rate=rate)
                sound.layout = "stereo" if channels == 2 else "mono"
                sound.codec_context.open()
                self._audio_stream = sound
        except Exception:
            try:
                container.close()
            except Exception:
                pass
            self._discard_partial()
            raise
        return container, stream

    # -- the frame loop's side ------------------------------------------------------------

    def write(self, frame: np.ndarray, block: bool = False, pts: int | None = None) -> None:
        """Queue one frame (H x W x 3 RGB or H x W x 4 RGBA, uint8, top row first), at `pts`
        (in frames of `fps`, rising; default: the next frame).

        Never blocks unless `block` (offline renders, where every frame must be in the file):
        if the encoder is behind, the frame is dropped and counted. A frame of the
        wrong size or type is dropped with one message. A vertically flipped view
        (`frame[::-1]`) costs nothing extra: the frame is copied here anyway.
        """
        now = time.perf_counter()
        if self._last_write_at is not None:
            step = now - self._last_write_at
            self._write_interval = step if self._write_interval == 0 else \
                0.9 * self._write_interval + 0.1 * step
        self._last_write_at = now
        if self._closed:
            raise RuntimeError(f"recording {self.target}: write() after close()")
        if self._failed:
            self.frames_dropped += 1
            return
        width, height = self.size
        if (frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[:2] != (height, width)
                or frame.shape[2] not in (3, 4)):
            self.frames_dropped += 1
            if not self._said_bad_frame:
                self._said_bad_frame = True
                self.log(f"recording {self.target}: dropping a frame of shape {frame.shape} "
                         f"{frame.dtype}; expected ({height}, {width}, 3 or 4) uint8")
            return
        buffer = self._take_buffer(frame.shape[2])
        if buffer is None and block:
            buffer = self._free.get()
            if buffer.shape[2] != frame.shape[2]:
                buffer = np.empty(buffer.shape[:2] + (frame.shape[2],), np.uint8)
        if buffer is None:
            self._drop_for_speed()
            return
        buffer[:height, :width] = frame
        if self.encoded_size != self.size:
            # Pad odd sizes with a copy of the edge, so the padding is invisible when cropped
            # and does not bleed a dark line into the last row's colour.
            buffer[height:, :width] = buffer[height - 1:height, :width]
            buffer[:, width:] = buffer[:, width - 1:width]
        if block:
            self._work.put((buffer, pts))
            return
        try:
            self._work.put_nowait((buffer, pts))
        except queue.Full:
            self._free.put(buffer)
            self._drop_for_speed()

    def _take_buffer(self, channels: int) -> np.ndarray | None:
        try:
            buffer = self._free.get_nowait()
        except queue.Empty:
            if self._buffers_made >= self._buffer_count:
                return None
            self._buffers_made += 1
            buffer = None
        if buffer is None or buffer.shape[2] != channels:
            # First use, or the caller switched between RGB and RGBA: a rare allocation.
            width, height = self.encoded_size
            buffer = np.empty((height, width, channels), np.uint8)
        return buffer

    def _drop_for_speed(self) -> None:
        self.frames_dropped += 1
        if not self._said_dropping:
            self._said_dropping = True
            median, p90 = self.encode_stats()
            self.log(f"recording {self.target}: the encoder is not keeping up ({median:.1f} ms "
                     f"a frame, p90 {p90:.1f}, for a frame every "
                     f"{1000 * self._write_interval:.1f} ms); dropping frames, the video holds "
                     f"the frame before (the count is reported at close). To keep up: "
                     f"preset = \"ultrafast\", a lower recording rate (fps = 30), a smaller "
                     f"output size, or codec = \"h264_nvenc\" on an NVIDIA GPU; a live show's "
                     f"performance log (.livegan.jsonl.gz beside the video) renders every "
                     f"frame again: livegan render --replay LOG --out VIDEO")

    # -- the worker's side ----------------------------------------------------------------

    def _run(self) -> None:
        """Encode queued frames until the end marker (None), then flush and finish the file."""
        while True:
            item = self._work.get()
            self._encode_audio()
            if item is None:
                break
            buffer, pts = item
            if self._failed:
                self._free.put(buffer)
                continue
            try:
                started = time.perf_counter()
                self._encode(buffer, pts)
                self._encode_ms[self._encode_count % STATS_WINDOW] = (
                    (time.perf_counter() - started) * 1e3)
                self._encode_count += 1
                self.frames_written += 1
            except Exception as error:  # disk full, encoder failure: stop, keep the show going
                self._failed = True
                self.log(f"recording {self.target}: stopped after {self.frames_written} frames: "
                         f"{error}")
            finally:
                self._free.put(buffer)
        self._finish()

    def _encode(self, buffer: np.ndarray, pts: int | None) -> None:
        pixel_format = "rgb24" if buffer.shape[2] == 3 else "rgba"
        frame = self._av.VideoFrame.from_ndarray(buffer, format=pixel_format)
        frame.pts = self.frames_written if pts is None else pts
        frame.time_base = self._time_base
        if frame.pts >= self._next_key:
            # A keyframe (and a new MP4 fragment) every second of the video's time, however
            # few frames arrive: what a crash can cost stays a second.
            from av.video.frame import PictureType

            frame.pict_type = PictureType.I
            self._next_key = frame.pts + max(1, round(self.fps))
        for packet in self._stream.encode(frame):
            self._container.mux(packet)

    def write_audio(self, samples: np.ndarray, position: int) -> None:
        """Queue sound for the track: `samples` (frames x channels float32, kept, not copied)
        at sample `position` of the file. Never blocks; encoded with the next video frame."""
        if self.audio is not None and not self._closed:
            self._audio_work.put((samples, position))

    def _encode_audio(self) -> None:
        """Encode the queued sound (the worker's side)."""
        while not self._audio_work.empty():
            samples, position = self._audio_work.get()
            if self._failed:
                continue
            try:
                layout = "stereo" if samples.shape[1] == 2 else "mono"
                frame = self._av.AudioFrame.from_ndarray(
                    np.ascontiguousarray(samples).reshape(1, -1), format="flt", layout=layout)
                frame.sample_rate = self.audio[0]
                frame.pts = position
                frame.time_base = Fraction(1, self.audio[0])
                for packet in self._audio_stream.encode(frame):
                    self._container.mux(packet)
            except Exception as error:  # keep the picture even if the sound fails
                self.log(f"recording {self.target}: sound track stopped: {error}")
                self.audio = None

    def _finish(self) -> None:
        try:
            if not self._failed:
                for packet in self._stream.encode(None):
                    self._container.mux(packet)
                if self.audio is not None:
                    for packet in self._audio_stream.encode(None):
                        self._container.mux(packet)
        except Exception as error:
            self.log(f"recording {self.target}: could not flush the encoder: {error}")
        try:
            self._container.close()
        except Exception as error:
            self.log(f"recording {self.target}: could not finish the file: {error}")

    def encode_stats(self) -> tuple[float, float]:
        """(median, p90) milliseconds the worker spent per frame, over the recent frames."""
        count = min(self._encode_count, STATS_WINDOW)
        if count == 0:
            return (0.0, 0.0)
        recent = self._encode_ms[:count]
        return (float(np.median(recent)), float(np.percentile(recent, 90)))

    # -- ending ---------------------------------------------------------------------------

    def close(self) -> None:
        """Encode what is queued, finish the file and rename it to the target. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._work.put(None)  # the queue has one slot beyond queue_frames for this marker
        self._worker.join()
        if self.frames_written == 0:
            self._discard_partial()
            self.log(f"recording {self.target}: no frames were recorded; no file written")
            return
        try:
            final = self._move_into_place()
        except OSError as error:
            self.log(f"recording {self.target}: could not rename {self.partial_path} "
                     f"({error}); the recording is there")
            return
        sent = self.frames_written + self.frames_dropped
        dropped = f", {self.frames_dropped} dropped ({100 * self.frames_dropped / sent:.1f} % " \
            f"of the frames sent)" if self.frames_dropped else ""
        self.log(f"recorded {self.frames_written} frames{dropped} to {final}")
        self.path = final

    def _move_into_place(self) -> Path:
        """Rename the finished `.partial` file to the target, or to the next free name when
        something appeared at the target during the recording (never over it, unless
        `overwrite`). A hard link makes "only if nothing is there" one atomic step; where the
        file system has none, the name is checked just before the rename."""
        if self.overwrite:
            os.replace(self.partial_path, self.target)
            return self.target
        while True:
            final = free_path(self.target)
            try:
                os.link(self.partial_path, final)
            except FileExistsError:
                continue  # taken between the check and the link: try the next name
            except OSError:
                os.replace(self.partial_path, final)
                return final
            os.unlink(self.partial_path)
            return final

    def _discard_partial(self) -> None:
        try:
            self.partial_path.unlink()
        except (OSError, AttributeError):
            pass

    def __enter__(self) -> "Recorder":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _close_at_exit(ref: "weakref.ref[Recorder]") -> None:
    recorder = ref()
    if recorder is not None:
        recorder.close()


class RecordSink:
    """Records the show to a video file (`[[outputs]] kind = "record"`, or `--record FILE`).

    Options: `path` (required; .mp4 or .mkv, relative to the patch), `quality` (x264 CRF,
    default 20), `codec` (default libx264; h264_nvenc where there is an NVIDIA encoder),
    `preset` (the encoder preset, default chosen for real time), `audio` (true: an AAC sound
    track of the live audio input, placed at the show time it was heard, see
    `liveGAN.sinks.record_audio`), `audio_rate` (default 48000) and `audio_channels` (1 or 2,
    default 2), `audio_file` (offline renders: the sound track is that file from its start,
    `livegan render --audio`), `fps` (the video's frame rate, default the show's; a lower one
    records every frame that falls on its grid and costs the encoder less). A file already at
    `path` is kept: the recording goes to the next free `<name>-N<ext>`.

    Each frame is encoded once, placed at its show time: when a live frame comes late, the one
    before stays on screen in the video (the encoder is not made to encode it again), so the
    video is exactly as long as the show.
    """

    def __init__(self, options: dict) -> None:
        options = dict(options)
        path = options.pop("path", None)
        if not isinstance(path, (str, os.PathLike)) or not str(path):
            raise RecorderError("record: `path` must be the file to record to (.mp4 or .mkv)")
        self.target = Path(path)
        self.quality = options.pop("quality", 20)
        self.codec = options.pop("codec", None)
        self.preset = options.pop("preset", None)
        self.audio = options.pop("audio", False)
        self.audio_rate = options.pop("audio_rate", 48000)
        self.audio_channels = options.pop("audio_channels", 2)
        self.audio_file = options.pop("audio_file", None)
        self.fps = options.pop("fps", None)
        self.log: Callable[[str], None] = print
        self._link = None
        self.track = None
        self.song = None
        if options:
            raise RecorderError(f"record: unknown option(s) {', '.join(sorted(options))} "
                                "(known: path, quality, codec, preset, fps, audio, "
                                "audio_rate, audio_channels, audio_file)")
        if self.audio_file is not None and (not isinstance(self.audio_file, (str, os.PathLike))
                                            or not str(self.audio_file)):
            raise RecorderError("record: audio_file must be the path of a sound file")
        if self.fps is not None and (isinstance(self.fps, bool)
                                     or not isinstance(self.fps, (int, float))
                                     or not 1 <= self.fps <= 240):
            raise RecorderError(f"record: fps must be a number 1..240, not {self.fps!r}")
        if not isinstance(self.audio, bool):
            raise RecorderError("record: audio must be true or false")
        if self.audio_rate not in (8000, 16000, 22050, 24000, 32000, 44100, 48000, 88200, 96000):
            raise RecorderError(f"record: audio_rate must be a usual sample rate (44100, "
                                f"48000, ...), not {self.audio_rate!r}")
        if self.audio_channels not in (1, 2) or isinstance(self.audio_channels, bool):
            raise RecorderError("record: audio_channels must be 1 or 2")
        if isinstance(self.quality, bool) or not isinstance(self.quality, int) \
                or not 0 <= self.quality <= 51:
            raise RecorderError(f"record: quality must be an integer 0..51, not {self.quality!r}")
        if self.target.suffix.lower() not in CONTAINERS:
            raise RecorderError(f"record: unsupported file type "
                                f"{self.target.suffix or '(none)'!r} for {self.target}; "
                                "use .mp4 or .mkv")
        self.recorder: Recorder | None = None
        self._written = 0

    def connect(self, link) -> None:
        self.log = link.say
        self._link = link

    def open(self, size: tuple[int, int], fps: float) -> None:
        target = free_path(self.target)
        if target != self.target:
            self.log(f"{self.target} exists; recording to {target} instead")
        sound = (self.audio_rate, self.audio_channels) \
            if self.audio or self.audio_file is not None else None
        if self.audio_file is not None:
            from liveGAN.audio.decode import FileSound

            self.song = FileSound(self.audio_file, *sound)
        self.recorder = Recorder(target, size, self.fps or fps, codec=self.codec,
                                 quality=self.quality, log=self.log, preset=self.preset,
                                 audio=sound)
        if sound is not None and self.song is None:
            from liveGAN.sinks.record_audio import AudioTrack

            self.track = AudioTrack(*sound, log=self.log)
        self._written = 0

    @property
    def recording(self) -> Path | None:
        """The file this sink records to (the show writes its performance log beside it)."""
        return self.recorder.target if self.recorder is not None else None

    def send(self, frame) -> None:
        recorder = self.recorder
        pts = int(round(frame.time * recorder.fps))
        if pts < self._written:
            return  # this moment of the video has its frame already (recording at a lower fps)
        recorder.write(frame.pixels(), block=not frame.realtime, pts=pts)
        self._written = pts + 1  # the video's length so far, in frames
        if self.song is not None:   # a render's song, up to the end of this frame
            due = round(self._written / recorder.fps * self.audio_rate)
            for samples, position in self.song.until(due):
                recorder.write_audio(samples, position)
        elif self.track is not None:
            link = self._link
            ring = link.audio() if link is not None and frame.realtime else None
            started_at = link.snapshot().started_at if link is not None else 0.0
            for samples, position in self.track.pull(ring, started_at,
                                                     self._written / recorder.fps):
                recorder.write_audio(samples, position)

    def close(self) -> None:
        if self.recorder is not None:
            self.recorder.close()

    @property
    def path(self) -> Path | None:
        """Where the recording is (its final name once closed)."""
        return self.recorder.path if self.recorder is not None else None
