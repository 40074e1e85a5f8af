"""The performance log: what the show applied, frame by frame, so a set can be rendered again.

Place in the data flow: the show's update (drained inbox, clock, tempo, the request) ->
**performance log** (a file beside the recording) -> `livegan render --replay LOG` -> a show
that plays the same frames offline, at any size.

What is written (gzip-compressed JSON lines, `show.mp4` -> `show.livegan.jsonl.gz`):
- a header: the patch's text and path, the frame rate, the output size, the seed, the source of
  every shader effect in the chain, the model file's size and modification time;
- one line per displayed frame: `[index, time, dt, beat, bpm, check]` and, when the inbox held
  anything that frame, `[[address, *values], ...]` of the newest continuous values and of the
  queued events, in the order the show applied them. `check` is a CRC-32 of the parameter
  values, the latent, the beat and the tempo at the end of the update: a replay compares its
  own with it, frame by frame (over the parameters the live show had: a `keys` line lists
  them, again whenever a reload changes them);
- an edit line for each reload the show adopted (`{"edit": "patch", "frame": N, "text": ...}`,
  `{"edit": "shaders", ...}`), applied before frame N's update.

The show's thread only queues a tuple per frame; a writer thread encodes, compresses and pushes
the file to the operating system every half second (`FLUSH_S`), so a show that is killed keeps
its log up to the last flush, like its recording (`read_log` reads a cut-off file). Nothing is
written over: the log takes the next free name, as recordings do.

Replay semantics (`Replay`): at the recorded frame times (the default), each frame gets the
recorded dt, the recorded tempo, the events and the edits the live show applied at that frame,
so parameter values, seeds and latents are the live ones exactly; the generator is asked for
every frame (offline), so the picture is what the live show requested, not the frame a slower
generator happened to finish. With another frame rate (`fps`), frames fall on a regular grid
and each live frame's events and edits are applied at the first replayed frame at or after its
time: close to the live show, not identical (smoothing runs on other steps).
"""
from __future__ import annotations

import json
import math
import os
import queue
import struct
import tempfile
import threading
import time
import zlib
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from liveGAN.clock import FixedClock

FORMAT = "livegan-performance"
VERSION = 1
LOG_SUFFIX = ".livegan.jsonl.gz"
FLUSH_S = 0.5
# The writer is far faster than the show; should it ever fall this far behind (a stalled disk),
# frames are dropped from the log rather than growing memory, and that is said once.
MAX_QUEUED = 20_000
# A log to replay is read whole: refuse anything far bigger than a long set makes (a 10-minute
# set at 60 fps is about 1 MB compressed).
MAX_LOG_BYTES = 256 << 20
MAX_LINE_CHARS = 8 << 20
_IDLE = object()  # the writer's wait timed out: only flush


def log_path_for(recording: Path) -> Path:
    """Where the performance log of `recording` goes: `<stem>.livegan.jsonl.gz` beside it, or
    the next free `<stem>-N.livegan.jsonl.gz`."""
    candidate, number = recording.with_name(recording.stem + LOG_SUFFIX), 1
    while os.path.lexists(candidate):
        candidate = recording.with_name(f"{recording.stem}-{number}{LOG_SUFFIX}")
        number += 1
    return candidate


def check_of(values: dict, keys, z, beat: float, bpm: float) -> int:
    """CRC-32 of a frame's parameter values (those of `keys`, in that order; a missing one
    counts as NaN), latent, beat and tempo."""
    numbers = [values.get(key, math.nan) for key in keys]
    crc = zlib.crc32(struct.pack(f"<{len(numbers) + 2}d", *numbers, beat, bpm))
    return zlib.crc32(np.ascontiguousarray(z, dtype=np.float32).tobytes(), crc)


def model_facts(path: Path | None) -> dict:
    """What identifies a model file cheaply: path, size, modification time."""
    if path is None:
        return {}
    try:
        info = os.stat(path)
    except OSError:
        return {"path": str(path)}
    return {"path": str(path), "size": info.st_size, "mtime_ns": info.st_mtime_ns}


class PerformanceLog:
    """Writes one show's performance to `path`, off the show's thread.

    `start(...)` once, then `frame(...)` every frame and `edit(...)` for each adopted reload;
    `close()` at the end. A write error (disk full) is said once; the show goes on.
    """

    def __init__(self, path: Path, say: Callable[[str], None]) -> None:
        self.path = Path(path)
        self.say = say
        self.frames_logged = 0
        self.frames_lost = 0
        self._failed = False
        self._exposure, self._exposure_landed = None, False
        self._keys: tuple[str, ...] = ()  # the parameters the last frame had (writer's side)
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._file = open(self.path, "xb")  # never over an existing file
        self._deflate = zlib.compressobj(6, zlib.DEFLATED, 31)
        self._thread = threading.Thread(target=self._write, name="liveGAN-performance-log",
                                        daemon=True)
        self._thread.start()

    # -- the show's side ---------------------------------------------------------------------

    def start(self, patch, fps: float, size: tuple[int, int], seed: int,
              shaders: dict[str, str], model: Path | None) -> None:
        self._put({"format": FORMAT, "version": VERSION, "patch": str(Path(patch.path).absolute()),
                   "text": patch.text, "fps": float(fps), "size": [int(size[0]), int(size[1])],
                   "seed": int(seed), "shaders": dict(shaders), "model": model_facts(model),
                   "started": time.time()})

    def frame(self, clock, latest: dict, events, request, exposure=None) -> None:
        """This frame's clock and tempo, what the inbox held, and the request it made.

        `exposure` is the show's ExposureGuide: the frame at which its measurement landed
        (on its own thread, whenever it finished) is noted, so a replay steers from there."""
        tempo = clock.tempo
        self._put((clock.frame, clock.time, clock.dt, tempo.beat, tempo.bpm, latest, events,
                   request.values, np.array(request.z, dtype=np.float32)))
        if exposure is not self._exposure:
            self._exposure, self._exposure_landed = exposure, False
        if not self._exposure_landed and getattr(exposure, "map", None) is not None:
            self._exposure_landed = True
            self._put({"edit": "exposure", "frame": int(clock.frame)})

    def edit(self, frame: int, patch=None, shaders: dict[str, str] | None = None) -> None:
        """A reload adopted before frame `frame`'s update: the new patch, or new shaders."""
        if patch is not None:
            self._put({"edit": "patch", "frame": int(frame),
                       "path": str(Path(patch.path).absolute()),
                       "text": patch.text})
        if shaders:
            self._put({"edit": "shaders", "frame": int(frame), "sources": dict(shaders)})

    def close(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(30)
            self._thread = None
        if self.frames_lost:
            self.say(f"performance log {self.path}: {self.frames_lost} frames could not be "
                     "written; a replay stops before them")

    def _put(self, item) -> None:
        if self._queue.qsize() > MAX_QUEUED:
            self.frames_lost += 1
            return
        self._queue.put(item)

    # -- the writer's side -------------------------------------------------------------------

    def _write(self) -> None:
        last_flush = time.monotonic()
        while True:
            try:
                item = self._queue.get(timeout=FLUSH_S)
            except queue.Empty:
                item = _IDLE
            if item is None:
                break
            if item is not _IDLE:
                self._line(item)
            if time.monotonic() - last_flush >= FLUSH_S:
                last_flush = time.monotonic()
                self._push(zlib.Z_SYNC_FLUSH)
        self._push(zlib.Z_FINISH)
        try:
            self._file.close()
        except OSError:
            pass

    def _line(self, item) -> None:
        if self._failed:
            return
        if isinstance(item, dict):
            text = json.dumps(item, separators=(",", ":"))
        else:
            index, t, dt, beat, bpm, latest, events, values, z = item
            keys = tuple(values)
            if keys != self._keys:
                self._keys = keys
                self._line({"edit": "keys", "frame": index, "keys": list(keys)})
            row = [index, t, dt, beat, bpm, check_of(values, keys, z, beat, bpm)]
            if latest or events:
                row.append([[address, *vals] for address, vals in latest.items()])
                row.append([[address, *vals] for address, vals in events])
            text = json.dumps(row, separators=(",", ":"))
            self.frames_logged += 1
        self._emit(self._deflate.compress(text.encode("utf-8") + b"\n"))

    def _push(self, mode: int) -> None:
        if not self._failed:
            self._emit(self._deflate.flush(mode))
            if not self._failed:
                try:
                    self._file.flush()
                except OSError as err:
                    self._fail(err)

    def _emit(self, data: bytes) -> None:
        if data and not self._failed:
            try:
                self._file.write(data)
            except OSError as err:
                self._fail(err)

    def _fail(self, err: OSError) -> None:
        self._failed = True
        self.say(f"performance log {self.path}: stopped after {self.frames_logged} frames: "
                 f"{err}")


# -- reading ------------------------------------------------------------------------------------


class LogError(ValueError):
    """A performance log that cannot be replayed; the message names the file and the line."""


@dataclass
class LoggedFrame:
    index: int
    time: float
    dt: float
    beat: float
    bpm: float
    check: int
    latest: list = field(default_factory=list)
    events: list = field(default_factory=list)


@dataclass
class Performance:
    """A log read back: its header, its frames in order, and its edits by frame."""

    path: Path
    header: dict
    frames: list[LoggedFrame]
    edits: dict[int, list[dict]]
    complete: bool


def read_log(path: str | os.PathLike) -> Performance:
    """Read a performance log, a cut-off one too (a killed show): everything up to its last
    whole line. LogError when it is not a performance log or a line does not fit."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_LOG_BYTES:
            raise LogError(f"{path}: {size} bytes is not a performance log (at most "
                           f"{MAX_LOG_BYTES})")
        raw = path.read_bytes()
    except OSError as err:
        raise LogError(f"{path}: cannot read the performance log ({err})") from None
    inflate = zlib.decompressobj(31)
    try:
        text = inflate.decompress(raw, 16 * MAX_LOG_BYTES)
        complete = inflate.eof
    except zlib.error:
        # A torn end: take what decompresses chunk by chunk up to the damage.
        inflate, parts, complete = zlib.decompressobj(31), [], False
        for start in range(0, len(raw), 1 << 16):
            try:
                parts.append(inflate.decompress(raw[start:start + (1 << 16)]))
            except zlib.error:
                break
        text = b"".join(parts)
    lines = text.split(b"\n")
    if lines and lines[-1] != b"":
        complete = False  # the last line was cut off mid-way
    lines = [line for line in lines[:-1] if line]
    if not lines:
        raise LogError(f"{path}: empty or not a gzip-compressed performance log")
    header = _json(path, 1, lines[0])
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise LogError(f"{path}: not a liveGAN performance log")
    if header.get("version") != VERSION:
        raise LogError(f"{path}: performance log version {header.get('version')!r}; this "
                       f"liveGAN reads version {VERSION}")
    _check_header(path, header)
    frames: list[LoggedFrame] = []
    edits: dict[int, list[dict]] = {}
    for number, line in enumerate(lines[1:], start=2):
        item = _json(path, number, line)
        if isinstance(item, dict):
            edits.setdefault(_edit_frame(path, number, item), []).append(item)
        else:
            frames.append(_frame(path, number, item, len(frames)))
    if not frames:
        raise LogError(f"{path}: the log holds no frames")
    return Performance(path, header, frames, edits, complete)


def _json(path: Path, number: int, line: bytes):
    if len(line) > MAX_LINE_CHARS:
        raise LogError(f"{path}: line {number} is {len(line)} bytes long")
    try:
        return json.loads(line)
    except (ValueError, RecursionError) as err:
        raise LogError(f"{path}: line {number} is not JSON ({err})") from None


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) \
        and math.isfinite(value)


def _check_header(path: Path, header: dict) -> None:
    size = header.get("size")
    good = (isinstance(header.get("text"), str) and isinstance(header.get("patch"), str)
            and _number(header.get("fps")) and header["fps"] > 0
            and isinstance(size, list) and len(size) == 2
            and all(isinstance(v, int) and v > 0 for v in size)
            and isinstance(header.get("seed"), int)
            and isinstance(header.get("shaders"), dict)
            and all(isinstance(k, str) and isinstance(v, str)
                    for k, v in header["shaders"].items()))
    if not good:
        raise LogError(f"{path}: line 1: the header lacks the patch, fps, size, seed or shaders")


def _edit_frame(path: Path, number: int, item: dict) -> int:
    frame = item.get("frame")
    kind = item.get("edit")
    ok = isinstance(frame, int) and frame >= 0 and (
        kind == "exposure"
        or (kind == "keys" and isinstance(item.get("keys"), list)
            and all(isinstance(k, str) for k in item["keys"]))
        or (kind == "patch" and isinstance(item.get("text"), str)
         and isinstance(item.get("path"), str))
        or (kind == "shaders" and isinstance(item.get("sources"), dict)
            and all(isinstance(k, str) and isinstance(v, str)
                    for k, v in item["sources"].items())))
    if not ok:
        raise LogError(f"{path}: line {number}: not an edit this liveGAN knows")
    return frame


def _events(path: Path, number: int, rows) -> list[tuple[str, tuple]]:
    if not isinstance(rows, list):
        raise LogError(f"{path}: line {number}: events must be a list")
    out = []
    for row in rows:
        if not (isinstance(row, list) and row and isinstance(row[0], str)
                and all(_number(v) or isinstance(v, str) for v in row[1:])):
            raise LogError(f"{path}: line {number}: an event must be [address, values...]")
        out.append((row[0], tuple(row[1:])))
    return out


def _frame(path: Path, number: int, row, expected: int) -> LoggedFrame:
    if not (isinstance(row, list) and len(row) in (6, 8) and all(_number(v) for v in row[:5])
            and isinstance(row[5], int) and row[0] == expected):
        raise LogError(f"{path}: line {number}: expected frame {expected} as "
                       "[index, time, dt, beat, bpm, check, ...]")
    frame = LoggedFrame(int(row[0]), float(row[1]), float(row[2]), float(row[3]),
                        float(row[4]), row[5])
    if len(row) == 8:
        frame.latest = _events(path, number, row[6])
        frame.events = _events(path, number, row[7])
    return frame


# -- replaying ----------------------------------------------------------------------------------


class ReplayClock(FixedClock):
    """The live show's frame times, dt and tempo, frame by frame (`Replay.clock`)."""

    def __init__(self, frames: list[LoggedFrame], fps: float, bpm: float) -> None:
        super().__init__(fps, bpm)
        self._frames = frames

    def tick(self, wake=None) -> float:
        self.frame += 1
        if self.frame >= len(self._frames):
            return 0.0  # past the log: the show stops at its frame count
        logged = self._frames[self.frame]
        if self.frame > 0:
            # Where the live tempo stood at the end of the last frame (a tap, a tempo source
            # followed), advanced by this frame's dt as the live clock did.
            before = self._frames[self.frame - 1]
            self.tempo.beat, self.tempo.bpm = before.beat, before.bpm
        self.dt, self.time = logged.dt, logged.time
        self.tempo.advance(self.dt)
        return self.dt


class Replay:
    """A performance log as a show's input: clock, events, edits; and a frame-by-frame check.

    `fps=None` (or the log's own rate) replays the recorded frame times exactly; another rate
    resamples (see the module docstring). Give the show `options()` and `patch()`.
    """

    def __init__(self, path: str | os.PathLike, fps: float | None = None) -> None:
        self.performance = read_log(path)
        header = self.performance.header
        self.recorded_fps = float(header["fps"])
        self.exact = fps is None or float(fps) == self.recorded_fps
        self.fps = self.recorded_fps if fps is None else float(fps)
        self.mismatches = 0
        self.first_mismatch: int | None = None
        self._measured = None  # the exposure guide measured for the replay's model
        self._keys: list[str] = []  # the live show's parameters, for the check
        self._shader_folder = Path(tempfile.mkdtemp(prefix="livegan-replay-shaders-"))
        self._write_shaders(header["shaders"])
        self._plan()

    @property
    def frames(self) -> int:
        """How many frames the replay renders."""
        return len(self._events)

    def patch(self):
        """The patch the show started with; its shaders are the logged ones."""
        from liveGAN.patch import PatchError, read_patch_text

        header = self.performance.header
        patch, problems = read_patch_text(header["text"], header["patch"])
        if problems:
            raise PatchError(problems)
        patch.shader_paths = [self._shader_folder, *patch.shader_paths]
        return patch

    def options(self, **overrides):
        """RunOptions for the replayed show (offline, the logged size and seed, this replay)."""
        from liveGAN.show.options import RunOptions

        header = self.performance.header
        settings = dict(headless=True, offline=True, frames=self.frames,
                        size=tuple(header["size"]), fps=self.fps, seed=header["seed"],
                        no_osc=True, watch=False, replay=self)
        settings.update({k: v for k, v in overrides.items() if v is not None})
        return RunOptions(**settings)

    def clock(self, fps: float, bpm: float) -> FixedClock:
        if self.exact:
            return ReplayClock(self.performance.frames, self.recorded_fps, bpm)
        return FixedClock(self.fps, bpm)

    # -- every frame, called by the show -----------------------------------------------------

    def before_update(self, show) -> None:
        """Adopt the edits the live show adopted before this frame."""
        from liveGAN.patch import PatchError, read_patch_text
        from liveGAN.show.scene import load_bundle

        frame = show.clock.frame
        if frame == 0:
            self._hold_exposure(show)
        for edit in self._edits[frame] if frame < self.frames else ():
            if edit["edit"] == "keys":
                self._keys = edit["keys"]
            elif edit["edit"] == "exposure":
                # The live guide's measurement landed here: steer from now on, gliding in.
                show.exposure.map = self._measured.map if self._measured is not None else None
            elif edit["edit"] == "shaders":
                self._write_shaders(edit["sources"])
                show.reload_shaders(trial=False)
            else:
                patch, problems = read_patch_text(edit["text"], edit["path"])
                if problems:
                    raise PatchError(problems)
                patch.shader_paths = [self._shader_folder, *patch.shader_paths]
                bundle = None
                if patch.model != show.patch.model:
                    bundle = load_bundle(patch.model, show.options.device)
                show.apply_edit(patch, bundle)
                if bundle is not None:
                    self._hold_exposure(show)

    def _hold_exposure(self, show) -> None:
        """Live, the exposure guide steers only once its measurement lands, whenever that is;
        here the measurement is waited for, and kept aside until the frame the log says."""
        from liveGAN.latent.exposure import ExposureGuide

        self._measured = show.exposure
        if self._measured is not None:
            self._measured.wait()
        show.exposure = ExposureGuide(None, show.bundle.z_dim)

    def events(self, index: int) -> tuple[dict, deque]:
        """This frame's drained inbox, as the live show drained it."""
        if index >= self.frames:
            return {}, deque()
        latest, events = self._events[index]
        return dict(latest), deque(events)

    def check(self, index: int, values: dict, z, beat: float, bpm: float) -> None:
        """Compare this frame with the live one (exact replays only)."""
        if not self.exact or index >= len(self.performance.frames):
            return
        keys = self._keys or list(values)  # a log without a keys line: the show's own order
        if check_of(values, keys, z, beat, bpm) != self.performance.frames[index].check:
            self.mismatches += 1
            if self.first_mismatch is None:
                self.first_mismatch = index

    def summary(self) -> str:
        if not self.exact:
            return (f"replayed {self.frames} frames at {self.fps:g} fps (resampled from "
                    f"{self.recorded_fps:g}; close to the live show, not frame-exact)")
        if self.mismatches == 0:
            return f"replayed {self.frames} frames: every frame matches the live show"
        return (f"replayed {self.frames} frames: {self.mismatches} differ from the live show, "
                f"the first at frame {self.first_mismatch}")

    def close(self) -> None:
        for file in self._shader_folder.glob("*"):
            file.unlink()
        self._shader_folder.rmdir()

    # -- set-up ------------------------------------------------------------------------------

    def _write_shaders(self, sources: dict[str, str]) -> None:
        for name, source in sources.items():
            if not name.replace("_", "").replace("-", "").isalnum():
                raise LogError(f"{self.performance.path}: shader effect name {name!r}")
            (self._shader_folder / f"{name}.glsl").write_text(source, encoding="utf-8")

    def _plan(self) -> None:
        """Each replayed frame's events and edits."""
        frames, edits = self.performance.frames, self.performance.edits
        if self.exact:
            self._events = [(f.latest, f.events) for f in frames]
            self._edits = [edits.get(i, []) for i in range(len(frames))]
            return
        count = int(math.floor(frames[-1].time * self.fps + 1e-9)) + 1
        events: list[tuple[dict, list]] = [({}, []) for _ in range(count)]
        planned: list[list[dict]] = [[] for _ in range(count)]
        for logged in frames:
            # The first grid frame at or after the live frame's time.
            slot = min(count - 1, int(math.ceil(logged.time * self.fps - 1e-9)))
            latest, queued = events[slot]
            for address, values in logged.latest:
                latest.pop(address, None)
                latest[address] = values
            queued.extend(logged.events)
            for edit in edits.get(logged.index, []):
                planned[slot].append(edit)
        self._events = [(list(latest.items()), queued) for latest, queued in events]
        self._edits = planned
