"""Keyframes: latents bookmarked on stage, and walks through them, loops in beats, drifting.

Place in the data flow: `/livegan/latent/keep <n>` -> **KeyframeStore** (beside the patch) ->
`KeyframeWalk` (or `mix/keyframe`) -> z or W+ for the generator. Also here: `LoopWalk`, a
seamless loop whose period is counted in beats, and `MomentumWalk`, a random walk whose
direction turns with inertia.

Every walk is a pure function of (phase, beat) and its seed or keyframes, like `walks.Walk`:
the same patch, seed and clock give the same frames, and an offline render may jump to any
time. A keyframe holds the z that made it, the seed, and W+ as it was shown (after truncation
and direction edits, so returning to it in W returns to the very picture).
"""
from __future__ import annotations

import json
import math
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from liveGAN.files import atomic_path
from liveGAN.latent import LatentConfigError
from liveGAN.latent.walks import Walk, on_shell, slerp

FILE_FORMAT = "livegan-keyframes"
KEYFRAME_MAX = 999
FILE_MAX_BYTES = 256 << 20   # a thousand 1024-model keyframes are ~40 MB; refuse absurd files
EASES = ("smooth", "linear", "spline")
WALK_KINDS = ("keyframes", "loop", "momentum")


@dataclass(frozen=True)
class Keyframe:
    """One bookmarked latent: z [z_dim], the seed of the walk that made it, and W+ as shown."""

    number: int
    z: np.ndarray
    seed: int = 0
    w: np.ndarray | None = None    # [num_ws, w_dim]


def _as_array(value: Any, name: str) -> np.ndarray:
    if hasattr(value, "detach"):
        value = value.detach().to("cpu").float().numpy()
    array = np.array(value, dtype=np.float32)   # a copy: the caller may reuse its buffer
    if not np.isfinite(array).all():
        raise LatentConfigError(f"keyframe {name} holds NaN or infinite values")
    return array


class KeyframeStore:
    """Numbered keyframes kept in memory and in one safetensors file beside the patch.

    `keep` returns at once (the show thread calls it): the file is written by a background
    thread, atomically, so a crash leaves the old file or the new one, whole. A missing file is
    an empty store; an unreadable one raises LatentConfigError naming it.
    """

    def __init__(self, path: str | os.PathLike | None,
                 log: Callable[[str], None] | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self._log = log or (lambda message: None)
        self._frames: dict[int, Keyframe] = {}
        self._lock = threading.Lock()
        self._version = 0
        self._written = 0
        self._writer: threading.Thread | None = None
        self._idle = threading.Event()
        self._idle.set()
        self.error: BaseException | None = None
        if self.path is not None and self.path.is_file():
            self._frames = self._read(self.path)

    @classmethod
    def beside(cls, patch_path: str | os.PathLike, log: Callable[[str], None] | None = None
               ) -> "KeyframeStore":
        """The store of a patch: `<patch>.keyframes.safetensors` in the patch's folder."""
        patch_path = Path(patch_path)
        return cls(patch_path.with_name(patch_path.stem + ".keyframes.safetensors"), log)

    # ------------------------------------------------------------------ the live API
    def keep(self, number: int, z: Any, w: Any = None, seed: int = 0) -> Keyframe:
        """Bookmark keyframe `number` (0..999): z, optional W+ ([1,] num_ws, w_dim), seed."""
        if isinstance(number, bool) or not float(number).is_integer() \
                or not 0 <= int(number) <= KEYFRAME_MAX:
            raise LatentConfigError(f"keyframe number must be 0..{KEYFRAME_MAX}, got {number!r}")
        z_arr = _as_array(z, "z").reshape(-1)
        w_arr = None
        if w is not None:
            w_arr = _as_array(w, "W")
            # [N, num_ws, w_dim] (the frame's batch: its first), [num_ws, w_dim] or one row.
            w_arr = w_arr.reshape(-1, *w_arr.shape[-2:])[0] if w_arr.ndim >= 2 else w_arr[None]
        frame = Keyframe(int(number), z_arr, int(seed), w_arr)
        with self._lock:
            self._frames[frame.number] = frame
            self._version += 1
        self._schedule_write()
        return frame

    def get(self, number: int) -> Keyframe | None:
        """Keyframe `number`, or None when nothing was kept there."""
        return self._frames.get(int(number))

    def numbers(self) -> list[int]:
        return sorted(self._frames)

    def forget(self, number: int) -> None:
        with self._lock:
            if self._frames.pop(int(number), None) is not None:
                self._version += 1
        self._schedule_write()

    def flush(self, timeout: float | None = 10.0) -> bool:
        """Wait until everything kept is on disk; False if that took longer than `timeout`."""
        return self._idle.wait(timeout)

    # ------------------------------------------------------------------ the file
    def _schedule_write(self) -> None:
        if self.path is None:
            return
        with self._lock:
            self._idle.clear()
            if self._writer is None:
                self._writer = threading.Thread(target=self._write_loop, daemon=True,
                                                name="liveGAN-keyframes")
                self._writer.start()

    def _write_loop(self) -> None:
        while True:
            with self._lock:
                if self._written == self._version:
                    self._writer = None
                    self._idle.set()
                    return
                version, frames = self._version, dict(self._frames)
            try:
                self._write(frames)
                self.error = None
            except Exception as err:  # disk full, folder gone: say so once, keep playing
                if self.error is None:
                    self._log(f"keyframes: cannot write {self.path}: {err}")
                self.error = err
            with self._lock:
                self._written = version

    def _write(self, frames: dict[int, Keyframe]) -> None:
        import torch
        from safetensors.torch import save_file

        tensors = {}
        for n, frame in frames.items():
            tensors[f"z.{n}"] = torch.from_numpy(frame.z)
            if frame.w is not None:
                tensors[f"w.{n}"] = torch.from_numpy(np.ascontiguousarray(frame.w))
        meta = {"format": FILE_FORMAT, "version": "1",
                "seeds": json.dumps({str(n): f.seed for n, f in frames.items()})}
        with atomic_path(self.path) as tmp:
            save_file(tensors, str(tmp), metadata=meta)

    @staticmethod
    def _read(path: Path) -> dict[int, Keyframe]:
        from safetensors import safe_open

        try:
            if path.stat().st_size > FILE_MAX_BYTES:
                raise ValueError(f"larger than {FILE_MAX_BYTES >> 20} MB")
            frames: dict[int, Keyframe] = {}
            with safe_open(str(path), framework="numpy") as f:
                meta = f.metadata() or {}
                if meta.get("format") != FILE_FORMAT:
                    raise ValueError("not a liveGAN keyframes file")
                seeds = {int(k): int(v) for k, v in json.loads(meta.get("seeds", "{}")).items()}
                names = list(f.keys())
                for name in names:
                    kind, _, number = name.partition(".")
                    if kind not in ("z", "w") or not number.isdigit() \
                            or int(number) > KEYFRAME_MAX:
                        raise ValueError(f"unexpected entry {name!r}")
                for name in names:
                    kind, _, number = name.partition(".")
                    if kind != "z":
                        continue
                    n = int(number)
                    w = f.get_tensor(f"w.{n}") if f"w.{n}" in names else None
                    frames[n] = Keyframe(n, f.get_tensor(name).astype(np.float32).reshape(-1),
                                         seeds.get(n, 0),
                                         None if w is None else w.astype(np.float32))
        except Exception as err:  # safetensors' own errors are not ValueErrors
            raise LatentConfigError(f"{path}: cannot read keyframes ({err})",
                                    [("keyframes", str(path), "a keyframes file liveGAN wrote")]
                                    ) from None
        return frames


# ------------------------------------------------------------------ walks through keyframes
def _ease(t: float, ease: str) -> float:
    return t * t * (3 - 2 * t) if ease == "smooth" else t


def _catmull_rom(p0, p1, p2, p3, t: float) -> np.ndarray:
    t2, t3 = t * t, t * t * t
    return (0.5 * ((2 * p1) + (p2 - p0) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t2
                   + (3 * p1 - p0 - 3 * p2 + p3) * t3)).astype(np.float32)


class KeyframeWalk:
    """Keyframe to keyframe, `beats` per step (one number or one per keyframe), in order.

    `position(phase, beat)` slerps z (on the Gaussian shell); `ws_at(phase, beat)` lerps the
    kept W+ (every keyframe must hold one). `ease`: 'smooth' (stops on each keyframe),
    'linear' (constant speed, corners at keyframes), 'spline' (Catmull-Rom: passes through
    each keyframe without stopping). With `loop` the last keyframe leads back to the first and
    the path repeats every `period` beats, continuous at the seam; without it the walk holds
    the last keyframe.
    """

    def __init__(self, keyframes: Sequence[Keyframe], beats: float | Sequence[float] = 4.0,
                 ease: str = "smooth", loop: bool = True) -> None:
        if not keyframes:
            raise LatentConfigError("a keyframe walk needs at least one keyframe")
        if ease not in EASES:
            raise LatentConfigError(f"ease must be one of {', '.join(EASES)}, not {ease!r}")
        self.frames = list(keyframes)
        count = len(self.frames)
        steps = count if loop else max(count - 1, 1)
        durations = [float(beats)] * steps if np.isscalar(beats) else [float(b) for b in beats]
        if len(durations) < steps:
            raise LatentConfigError(f"beats: {len(durations)} durations for {steps} steps")
        if not all(math.isfinite(d) and d > 0 for d in durations[:steps]):
            raise LatentConfigError(f"beats must be positive numbers, got {durations[:steps]}")
        self.durations = durations[:steps]
        self.starts = np.concatenate([[0.0], np.cumsum(self.durations)])
        self.period = float(self.starts[-1])
        self.ease, self.loop = ease, loop

    def _segment(self, beat: float) -> tuple[int, float]:
        """(index of the keyframe the step leaves from, eased fraction of the step)."""
        count = len(self.frames)
        if count == 1:
            return 0, 0.0
        if self.loop:
            beat = beat % self.period   # the seam is exact: beat == period is beat 0
        elif beat >= self.period:
            return count - 2, 1.0
        beat = max(beat, 0.0)
        index = min(int(np.searchsorted(self.starts, beat, side="right")) - 1,
                    len(self.durations) - 1)
        frac = (beat - self.starts[index]) / self.durations[index]
        return index, min(max(frac, 0.0), 1.0)

    def _neighbours(self, index: int) -> list[int]:
        count = len(self.frames)
        picks = [index - 1, index, index + 1, index + 2]
        if self.loop:
            return [p % count for p in picks]
        return [min(max(p, 0), count - 1) for p in picks]

    def position(self, phase: float = 0.0, beat: float = 0.0) -> np.ndarray:
        """z at `beat` (phase is unused: keyframe walks keep time in beats)."""
        index, frac = self._segment(beat)
        ids = self._neighbours(index)
        # Keyframes go onto the shell first, so the path's speed does not depend on how far
        # from the centre each one was kept.
        if self.ease == "spline":
            points = [on_shell(self.frames[i].z) for i in ids]
            return on_shell(_catmull_rom(*points, frac))
        a, b = on_shell(self.frames[ids[1]].z), on_shell(self.frames[ids[2]].z)
        return on_shell(slerp(a, b, _ease(frac, self.ease)))

    def ws_at(self, phase: float = 0.0, beat: float = 0.0) -> np.ndarray:
        """W+ [num_ws, w_dim] at `beat`, a lerp (or spline) between the kept W+."""
        missing = [f.number for f in self.frames if f.w is None]
        if missing:
            raise LatentConfigError(f"keyframes {missing} hold no W (kept without one); "
                                    "walk them in z instead")
        index, frac = self._segment(beat)
        ids = self._neighbours(index)
        if self.ease == "spline":
            return _catmull_rom(*[self.frames[i].w for i in ids], frac)
        a, b = self.frames[ids[1]].w, self.frames[ids[2]].w
        t = _ease(frac, self.ease)
        return (a + (b - a) * np.float32(t)).astype(np.float32)


class LoopWalk:
    """A seamless loop through Z that comes back every `period` beats, in time with the music.

    The path is the `noise` walk of the same seed (a few looping harmonics), timed by beats
    instead of walk phase: at beat `period` it is exactly where it was at beat 0.
    """

    def __init__(self, seed: int, z_dim: int, period: float = 16.0) -> None:
        if not (math.isfinite(period) and period > 0):
            raise LatentConfigError(f"loop period must be a positive number of beats, got {period}")
        self.seed, self.z_dim, self.period = int(seed), int(z_dim), float(period)
        self._path = Walk("noise", self.seed, self.z_dim)

    def position(self, phase: float = 0.0, beat: float = 0.0) -> np.ndarray:
        return self._path.position(2 * math.pi * ((beat % self.period) / self.period), beat)


class MomentumWalk:
    """A random walk with momentum: its direction turns gradually, it never doubles back.

    Steps are taken at `steps_per_radian` per radian of walk phase (so `latent/speed` sets the
    pace): velocity v <- m v + sqrt(1 - m²) e (e fresh Gaussian noise from the seed and step
    number), z <- z + `step` v, back onto the shell; a Catmull-Rom curve through the steps
    makes the motion smooth. Step k depends only on (seed, k): any phase can be asked for in
    any order with the same answer (states are kept every 64 steps to make seeking cheap).
    """

    CHECKPOINT = 64

    def __init__(self, seed: int, z_dim: int, momentum: float = 0.9, step: float = 0.15,
                 steps_per_radian: float = 4.0) -> None:
        if not 0.0 <= momentum < 1.0:
            raise LatentConfigError(f"momentum must be in [0, 1), got {momentum}")
        if not (math.isfinite(step) and step > 0 and steps_per_radian > 0):
            raise LatentConfigError("step and steps_per_radian must be positive numbers")
        self.seed, self.z_dim = int(seed), int(z_dim)
        self.momentum, self.step, self.rate = float(momentum), float(step), float(steps_per_radian)
        z0 = on_shell(self._noise(-1))
        self._checkpoints: dict[int, tuple[np.ndarray, np.ndarray]] = {0: (z0, self._noise(-2))}
        self._cursor = (0, *self._checkpoints[0])

    def _noise(self, k: int) -> np.ndarray:
        rng = np.random.default_rng([self.seed & 0xFFFFFFFF, k + 2])
        return rng.standard_normal(self.z_dim).astype(np.float32)

    def _state(self, k: int) -> np.ndarray:
        """z after step k (k >= 0)."""
        at, z, v = self._cursor
        if at > k:
            at = (k // self.CHECKPOINT) * self.CHECKPOINT
            z, v = self._checkpoints[at]
        keep = math.sqrt(1.0 - self.momentum ** 2)
        while at < k:
            v = (self.momentum * v + keep * self._noise(at)).astype(np.float32)
            z = on_shell(z + np.float32(self.step) * v)
            at += 1
            if at % self.CHECKPOINT == 0:
                self._checkpoints.setdefault(at, (z, v))
        self._cursor = (at, z, v)
        return z

    def position(self, phase: float = 0.0, beat: float = 0.0) -> np.ndarray:
        steps = max(float(phase), 0.0) * self.rate
        k = int(math.floor(steps))
        frac = steps - k
        points = [self._state(max(i, 0)) for i in (k - 1, k, k + 1, k + 2)]
        return on_shell(_catmull_rom(*points, frac))


def make_walk(kind: str, seed: int, z_dim: int, options: Mapping[str, Any] | None = None,
              store: KeyframeStore | None = None):
    """A walk of `kind` ('keyframes', 'loop', 'momentum') from a patch's `[latent]` options.

    keyframes: `keyframes = [n, ...]` (store numbers; default every kept one), `beats`,
    `ease`, `loop`; loop: `period` (beats); momentum: `momentum`, `step`. LatentConfigError
    names the key (as `latent.<key>`) when an option does not fit.
    """
    options = dict(options or {})
    try:
        if kind == "keyframes":
            if store is None:
                raise LatentConfigError("a keyframe walk needs the patch's keyframe store")
            numbers = options.get("keyframes", store.numbers())
            frames = [store.get(n) for n in numbers]
            missing = [n for n, f in zip(numbers, frames) if f is None]
            if missing:
                raise LatentConfigError(f"latent.keyframes: nothing kept as {missing} "
                                        f"(kept: {store.numbers() or 'none'})",
                                        [("latent.keyframes", repr(missing),
                                          f"kept keyframes {store.numbers()}")])
            return KeyframeWalk(frames, options.get("beats", 4.0),
                                options.get("ease", "smooth"), bool(options.get("loop", True)))
        if kind == "loop":
            return LoopWalk(seed, z_dim, float(options.get("period", 16.0)))
        if kind == "momentum":
            return MomentumWalk(seed, z_dim, float(options.get("momentum", 0.9)),
                                float(options.get("step", 0.15)))
    except (TypeError, ValueError) as err:
        if isinstance(err, LatentConfigError):
            raise
        raise LatentConfigError(f"latent: {err}") from None
    raise LatentConfigError(f"latent.walk: {kind!r} is not one of {', '.join(WALK_KINDS)}",
                            [("latent.walk", repr(kind), " | ".join(WALK_KINDS))])
