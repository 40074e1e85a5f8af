"""Exposure of the walk: keep the latent walk out of latents whose picture is nearly empty.

Place in the data flow: walk (z) -> **exposure guide** -> the generator request. Some latents
of a model render almost nothing (a faint ring on black); a walk drifting through them leaves
the screen dark for seconds. Once per model, right after it loads, a worker thread renders a
fixed sample of latents (`measure_exposure`), marks the dark ones, and fits the direction in Z
along which the pictures get brighter: a ridge regression of log brightness on z. The guide then
keeps the walk's position along that direction above a floor (`steer`), so a walk heading into
the dark is bent towards the bright side while its motion in every other direction is left as
it was. The fit is checked before it is used: the darkest measured latents, steered, must come
out clearly brighter than the same latents pushed as far in random directions, otherwise the
guide stays off and says why.

The position `s = z . direction` of a Gaussian latent is about N(0, 1), so the floor is in
standard deviations: with `FLOOR = 2.5` nearly every latent (all but 0.6 % of random ones) is
lifted to where the brightest random latents lie along that one direction, while the other
z_dim - 1 dimensions stay free: the walk still wanders the whole model.

Timing: live, a first fit from the first `EARLY_SAMPLES` latents (measured at the show's own
priority) steers within the first seconds; the rest is measured at a lowered priority. The
guide glides in, and later to the full fit's direction, over `ENGAGE_S`, so steering never
jumps. A model measured once is read back from the cache (keyed by the model file's content or
preset name) the next time.
Determinism: the sample is fixed by a seed, so a model always gives the same direction; an
offline render waits for the whole measurement before its first frame (`ExposureGuide.wait`).

Importing this module imports nothing heavy: torch is needed only by `model_brightness`.
"""
from __future__ import annotations

import math
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from liveGAN.params import Param

# A picture whose mean brightness (0..1, all channels) is below this is "dark": even the
# auto-exposure effect's largest gain would leave it dim (20/255 is the per-second floor that
# bench/first_seconds.py holds the default patch to).
DARK_LEVEL = 20 / 255
# Below this it is nearly black (the training metric's threshold, patches/models/README.md).
BLACK_LEVEL = 0.03
SAMPLES = 192           # latents measured per model
EARLY_SAMPLES = 32      # live, a first fit from this many steers while the rest are measured
BATCH = 8               # small, so a cancelled measurement stops soon
BUDGET_S = 30.0         # a slow model stops sampling here and fits what it has ...
MIN_SAMPLES = 32        # ... if it has at least this many
SEED = 0
FLOOR = 2.5             # least position along the bright direction, in standard deviations
SOFTNESS = 0.5          # width of the smooth corner at the floor, in standard deviations
CHECK_COUNT = 16        # darkest measured latents steered again to check the fit, whose mean
CHECK_GAIN = 1.25       # brightness must beat random pushes as large (and where they were) by this
ENGAGE_S = 1.5          # live: seconds over which the guide glides in once measured
# The measuring thread's niceness once the first fit is in: below the show's threads (the first
# EARLY_SAMPLES latents are measured at the show's own priority, so a busy 2-core machine still
# steers within its first seconds).
PRIORITY = 5
CACHE_VERSION = 1
# log(brightness + EPS): darkness is a ratio (a picture at 2/255 is much darker than at 8/255),
# and EPS keeps pure black finite.
LOG_EPS = 0.02

BrightnessFn = Callable[[np.ndarray], np.ndarray]


def exposure_params() -> list[Param]:
    """The `latent/avoid_dark` control (declared with the walk's params)."""
    return [Param("latent", "avoid_dark", "float", 1.0, 0.0, 1.0, 0.5,
                  "keep the walk away from latents that render nearly black "
                  "(measured once per model at load; 0: off)")]


@dataclass(frozen=True)
class ExposureMap:
    """What one measurement of a model found.

    `direction` is a unit vector in Z towards brighter pictures, `brightness` the mean
    brightness (0..1) of each measured latent, `checked` the mean brightness of the darkest
    ones before and after steering. `usable` says whether steering helps; `reason` why not.
    """

    direction: np.ndarray
    brightness: np.ndarray
    checked: tuple[float, float]
    seconds: float
    usable: bool
    reason: str = ""

    @property
    def dark_fraction(self) -> float:
        return float(np.mean(self.brightness < DARK_LEVEL)) if self.brightness.size else 0.0

    @property
    def black_fraction(self) -> float:
        return float(np.mean(self.brightness < BLACK_LEVEL)) if self.brightness.size else 0.0

    def describe(self) -> str:
        """One line for the log."""
        count = self.brightness.size
        found = (f"{count} latents measured in {self.seconds:.1f} s: "
                 f"{100 * self.dark_fraction:.1f} % dark (< {DARK_LEVEL * 255:.0f}/255), "
                 f"{100 * self.black_fraction:.1f} % nearly black")
        if not self.usable:
            return f"exposure: {found}; walk not steered ({self.reason})"
        before, after = self.checked
        return (f"exposure: {found}; the walk now keeps out of them (darkest "
                f"{min(CHECK_COUNT, count // 8)} steered: {255 * before:.0f} -> "
                f"{255 * after:.0f}/255)")


def steer(z: np.ndarray, direction: np.ndarray, amount: float = 1.0, floor: float = FLOOR,
          softness: float = SOFTNESS) -> np.ndarray:
    """`z` with its position along `direction` lifted smoothly to at least about `floor`.

    `amount` (0..1) scales the lift (0 returns z unchanged). The result keeps z's norm, so a
    walk on the Gaussian shell stays on it; positions well above the floor are left alone. The
    lift is a smooth function of z (a softplus corner), so a smooth walk stays smooth.
    """
    if amount <= 0.0:
        return z
    norm = float(np.linalg.norm(z))
    if norm < 1e-8:
        return z
    # Positions are in standard deviations of a Gaussian latent, whatever the walk's radius.
    scale = norm / math.sqrt(z.shape[-1])
    s = float(np.dot(z, direction)) / scale
    x = (s - floor) / softness
    # softplus, written to stay finite far from the corner
    lifted = floor + softness * (max(x, 0.0) + math.log1p(math.exp(-abs(x))))
    out = z + (amount * (lifted - s) * scale) * direction
    return (out * (norm / float(np.linalg.norm(out)))).astype(z.dtype, copy=False)


def fit_direction(z: np.ndarray, brightness: np.ndarray) -> np.ndarray:
    """The unit direction in Z along which log brightness rises (ridge regression)."""
    y = np.log(np.asarray(brightness, np.float64) + LOG_EPS)
    x = np.asarray(z, np.float64)
    count, dim = x.shape
    # For Gaussian z, xᵀx is about count * I: a ridge of count/2 keeps a small sample from
    # fitting noise while leaving a large one nearly unregularised.
    coef = np.linalg.solve(x.T @ x + 0.5 * count * np.eye(dim), x.T @ (y - y.mean()))
    length = float(np.linalg.norm(coef))
    return (coef / length if length > 0 else coef).astype(np.float32)


def measure_exposure(brightness_of: BrightnessFn, z_dim: int, samples: int = SAMPLES,
                     seed: int = SEED, batch: int = BATCH, budget_s: float = BUDGET_S,
                     cancel: threading.Event | None = None,
                     clock: Callable[[], float] = time.perf_counter,
                     early: int = EARLY_SAMPLES,
                     on_early: Callable[[ExposureMap], None] | None = None
                     ) -> ExposureMap | None:
    """Render a fixed sample of latents, fit the bright direction, and check it.

    `brightness_of(z [n, z_dim]) -> [n]` gives each latent's mean picture brightness in 0..1
    (`model_brightness` makes one from a generator). With `on_early`, a first fit from the
    first `early` latents is handed over as soon as they are measured, usable or not (a live
    show steers with a usable one while the rest are measured). Returns None when cancelled.
    """
    started = clock()
    z = np.random.default_rng(seed).standard_normal((samples, z_dim)).astype(np.float32)
    measured: list[np.ndarray] = []
    done = 0
    warm = (0.0, 0)  # (when, how many) after the first latent, which also warms the model up
    while done < samples:
        if cancel is not None and cancel.is_set():
            return None
        now = clock()
        # Past the budget, or (judged by the pace since warming up) unable to reach
        # MIN_SAMPLES within it.
        pace = (now - warm[0]) / (done - warm[1]) if done > warm[1] > 0 else 0.0
        if now - started > budget_s or (done < MIN_SAMPLES and
                                        now + pace * (MIN_SAMPLES - done) - started > budget_s):
            break
        size = 1 if done == 0 else batch  # a first latent alone finds a slow model out early
        measured.append(np.asarray(brightness_of(z[done:done + size]), np.float64))
        done += len(measured[-1])
        if warm[1] == 0:
            warm = (clock(), done)
        if on_early is not None and done >= early and done - len(measured[-1]) < early \
                and done < samples:
            first = _fit_and_check(brightness_of, z[:done], np.concatenate(measured), seed,
                                   started, clock, cancel, budget_s)
            if first is not None:
                on_early(first)
    if not measured:
        return None
    return _fit_and_check(brightness_of, z[:done], np.concatenate(measured), seed, started,
                          clock, cancel, budget_s)


def _fit_and_check(brightness_of: BrightnessFn, z: np.ndarray, brightness: np.ndarray,
                   seed: int, started: float, clock: Callable[[], float],
                   cancel: threading.Event | None, budget_s: float) -> ExposureMap | None:
    """The map from measured latents `z` and their `brightness`: fit, then check the fit."""
    done, z_dim = z.shape
    direction = np.zeros(z_dim, np.float32)

    def result(usable: bool, reason: str = "", checked=(0.0, 0.0)) -> ExposureMap:
        return ExposureMap(direction, brightness, checked, clock() - started, usable, reason)

    if done < MIN_SAMPLES:
        each = (clock() - started) / max(done, 1)
        return result(False, f"{each:.1f} s per latent here: too slow to measure "
                             f"{MIN_SAMPLES} in {budget_s:.0f} s")
    if not np.any(brightness < DARK_LEVEL):
        return result(False, "no dark latents found")
    direction = fit_direction(z, brightness)
    if cancel is not None and cancel.is_set():
        return None
    # The check: the darkest latents, steered, against the same latents pushed just as far in
    # random directions. Any change to a latent picked for being dark tends to brighten it
    # (regression to the mean), so only a clear win over that control shows the fit is real.
    darkest = z[np.argsort(brightness)[:min(CHECK_COUNT, done // 8)]]
    steered = np.stack([steer(zi, direction) for zi in darkest])
    pushes = np.linalg.norm(steered - darkest, axis=1, keepdims=True)
    randoms = np.random.default_rng(seed + 1).standard_normal(darkest.shape)
    control = darkest + pushes * randoms / np.linalg.norm(randoms, axis=1, keepdims=True)
    control *= np.linalg.norm(darkest, axis=1, keepdims=True) / np.linalg.norm(
        control, axis=1, keepdims=True)
    measured_both = np.asarray(brightness_of(np.concatenate([steered, control]).astype(
        np.float32)), np.float64)
    after, by_chance = (float(np.mean(part)) for part in np.split(measured_both, 2))
    before = float(np.mean(np.sort(brightness)[:len(darkest)]))
    if after < CHECK_GAIN * max(by_chance, before):
        return result(False, f"steering the darkest latents ({255 * before:.0f}/255) gave "
                             f"{255 * after:.0f}/255, no better than random pushes "
                             f"({255 * by_chance:.0f}/255)", (before, after))
    return result(True, checked=(before, after))


def model_brightness(G: Any, truncation_psi: float = 1.0) -> BrightnessFn | None:
    """A `brightness_of` for generator `G` (None when G has no mapping and synthesis to call).

    It calls G directly, in inference mode on G's own device, with constant noise and class 0
    for a conditional model: the runtime belongs to the generator worker's thread.
    """
    if not (callable(getattr(G, "mapping", None)) and callable(getattr(G, "synthesis", None))):
        return None
    import torch

    try:
        device = next(G.parameters()).device
    except (AttributeError, StopIteration):
        device = torch.device("cpu")
    c_dim = int(getattr(G, "c_dim", 0) or 0)

    def brightness_of(z: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            zt = torch.from_numpy(np.ascontiguousarray(z, np.float32)).to(device)
            c = None
            if c_dim:
                c = torch.zeros([zt.shape[0], c_dim], device=device)
                c[:, 0] = 1.0
            ws = G.mapping(zt, c, truncation_psi=truncation_psi)
            img = G.synthesis(ws, noise_mode="const").float()
            # Every generator's synthesis answers in [-1, 1] (custom ones are rescaled to it).
            unit = ((img + 1.0) * 0.5).clamp(0.0, 1.0)
            return unit.mean(dim=(1, 2, 3)).cpu().numpy()

    return brightness_of


# ------------------------------------------------------------------ the cache
def cache_dir() -> Path:
    """Where measurements are kept: $XDG_CACHE_HOME/livegan/exposure (default ~/.cache)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "livegan" / "exposure"


def cache_file(model_path: str | os.PathLike | None, truncation_psi: float,
               samples: int = SAMPLES, seed: int = SEED, preset: str | None = None) -> Path:
    """The cache file of one measurement of the model file at `model_path` (by content), or
    of the benchmark preset `preset` (random weights, always the same for a name)."""
    from liveGAN.latent.directions import model_hash, preset_hash

    key = preset_hash(preset) if model_path is None else model_hash(model_path)
    return cache_dir() / (f"{key}.exposure-v{CACHE_VERSION}"
                          f"-psi{truncation_psi:.3f}-n{samples}-s{seed}.npz")


def save_map(path: Path, found: ExposureMap) -> None:
    """Write `found` to `path` atomically."""
    from liveGAN.files import atomic_path

    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, direction=found.direction, brightness=found.brightness,
                 checked=np.array(found.checked), seconds=np.array(found.seconds),
                 usable=np.array(found.usable), reason=np.array(found.reason))


def load_map(path: Path, z_dim: int) -> ExposureMap | None:
    """The measurement kept at `path`, or None when it is missing, unreadable or not for a
    latent of `z_dim`."""
    try:
        with np.load(path, allow_pickle=False) as data:
            direction = data["direction"].astype(np.float32)
            if direction.shape != (z_dim,):
                return None
            return ExposureMap(direction, data["brightness"].astype(np.float64),
                               tuple(float(v) for v in data["checked"]),
                               float(data["seconds"]), bool(data["usable"]), str(data["reason"]))
    except (OSError, KeyError, ValueError):
        return None


class ExposureGuide:
    """The show's exposure guide for one model: measures on a worker thread, then steers.

    `steer(z, amount, dt)` is called by the frame loop once per frame and only reads what the
    worker left (one reference, swapped atomically); before the measurement lands it returns z
    unchanged. The measurement starts with `start()`, or at the first `steer` with an amount
    above 0 (a patch that turns the guide off costs nothing). With a `cache` callable (-> a
    file path), a model measured before is read back instead of measured again. `log` gets the
    one-line result; `stop()` abandons a measurement in progress.
    """

    def __init__(self, brightness_of: BrightnessFn | None, z_dim: int,
                 log: Callable[[str], None] = lambda message: None,
                 samples: int = SAMPLES, engage_s: float = ENGAGE_S,
                 cache: Callable[[], Path | None] | None = None) -> None:
        self.z_dim = int(z_dim)
        self.map: ExposureMap | None = None
        self.error: BaseException | None = None
        self.from_cache = False
        self._log = log
        self._engage_s = engage_s
        self._engaged = 0.0
        self._direction: np.ndarray | None = None  # what steer uses; glides to the map's
        self._cancel = threading.Event()
        self._thread: threading.Thread | None = None
        if brightness_of is not None:
            self._thread = threading.Thread(target=self._measure,
                                            args=(brightness_of, samples, cache),
                                            name="liveGAN-exposure", daemon=True)
        self._started = False

    def start(self) -> None:
        """Begin measuring on the worker thread (once; nothing to do for an idle guide)."""
        if not self._started and self._thread is not None and not self._cancel.is_set():
            self._started = True
            self._thread.start()

    @classmethod
    def for_model(cls, G: Any, z_dim: int, truncation_psi: float = 1.0,
                  model_path: str | os.PathLike | None = None, preset: str | None = None,
                  log: Callable[[str], None] = lambda message: None) -> "ExposureGuide":
        """A guide measuring generator `G` at `truncation_psi` (idle when G can't be called);
        the result is cached by the content of `model_path`, or by the name of the `preset` G
        was built from, when there is one."""
        psi = float(truncation_psi)
        cache = None
        if model_path is not None and Path(model_path).is_file():
            cache = lambda: cache_file(model_path, psi)  # noqa: E731 - hashed on the worker
        elif model_path is None and preset is not None:
            cache = lambda: cache_file(None, psi, preset=preset)  # noqa: E731
        return cls(model_brightness(G, psi), z_dim, log, cache=cache)

    def _measure(self, brightness_of: BrightnessFn, samples: int,
                 cache: Callable[[], Path | None] | None) -> None:
        try:
            path = cache() if cache is not None else None
            found = load_map(path, self.z_dim) if path is not None else None
            self.from_cache = found is not None
            if found is None:
                found = measure_exposure(brightness_of, self.z_dim, samples, cancel=self._cancel,
                                         on_early=self._adopt_early)
                # Only a whole measurement is kept: one cut short by a busy machine is not.
                if found is not None and path is not None and found.brightness.size == samples:
                    save_map(path, found)
        except Exception as err:  # noqa: BLE001 - one message; the walk goes on unsteered
            self.error = err
            self._log(f"exposure: measurement failed ({type(err).__name__}: {err}); "
                      "the walk is not steered")
            return
        if found is not None:
            self.map = found
            self._log(found.describe() + (" [cached]" if self.from_cache else ""))

    def _adopt_early(self, first: ExposureMap) -> None:
        from liveGAN.latent.directions import lower_thread_priority

        lower_thread_priority(PRIORITY)  # the show has its first fit: the rest can wait
        if first.usable:
            self.map = first
            self._log(f"exposure: a first fit from {first.brightness.size} latents steers the "
                      "walk while the rest are measured")

    @property
    def measuring(self) -> bool:
        return self._started and self._thread is not None and self._thread.is_alive()

    def wait(self, timeout: float | None = None) -> bool:
        """Start the measurement if needed, block until it is done, and steer fully from the
        next frame (offline renders, so every frame is steered alike); True if it is done."""
        self.start()
        if self._started:
            self._thread.join(timeout)
        self._engaged = 1.0
        if self.map is not None:
            self._direction = self.map.direction
        return not self.measuring

    def stop(self, timeout: float = 10.0) -> None:
        """Abandon a measurement in progress and wait (up to `timeout`) for its thread, which
        stops after its current batch: a thread left inside torch at exit aborts Python."""
        self._cancel.set()
        if self.measuring and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def steer(self, z: np.ndarray, amount: float, dt: float = 0.0) -> np.ndarray:
        """This frame's z, kept out of the dark by `amount` (0..1) once the map is known."""
        if amount > 0.0 and not self._started:
            self.start()
        found = self.map
        if found is None or not found.usable:
            return z
        step = min(dt / self._engage_s, 1.0) if self._engage_s > 0 else 1.0
        if self._engaged < 1.0:
            self._engaged = min(1.0, self._engaged + step)
        # The first fit is replaced by the full one a few seconds later: glide between the two
        # directions rather than jump.
        if self._direction is None:
            self._direction = found.direction
        elif self._direction is not found.direction:
            moved = self._direction + (found.direction - self._direction) * step
            self._direction = (moved / max(float(np.linalg.norm(moved)), 1e-8)).astype(
                np.float32)
            if float(np.dot(self._direction, found.direction)) > 1.0 - 1e-6:
                self._direction = found.direction
        engaged = self._engaged * self._engaged * (3.0 - 2.0 * self._engaged)
        return steer(z, self._direction, amount * engaged)
