"""Latent walks: where in Z the generator looks at each moment.

Place in the data flow: clock + params -> **walk** -> z for the generator worker. A walk is a pure
function of (seed, phase, beat): the same patch, seed and clock give the same path, which keeps
offline renders deterministic. Walks stay on the shell where a Gaussian z lives (norm about
sqrt(z_dim)), so the generator never sees the washed-out centre of Z.
"""
from __future__ import annotations

import math

import numpy as np

from liveGAN.latent.exposure import exposure_params
from liveGAN.params import Param

WALKS = ("noise", "circle", "beats", "still")
SEED_MAX = 2**31 - 1
TRUNCATION_MAX = 1.5
PULSE_REACH = 0.5   # how far a full `latent/pulse` lifts truncation psi


def walk_params(num_ws: int = 18) -> list[Param]:
    """The `latent/...` controls every show has: walk speed, truncation, seed and seed steps,
    the moves that rest at 0 for sound to drive (pulse, motion), and how firmly the walk keeps
    out of the dark (`latent.exposure`)."""
    return [
        Param("latent", "speed", "float", 0.25, 0.0, 4.0, 0.5,
              "latent walk speed, radians of walk phase per second"),
        Param("latent", "truncation", "float", 0.8, 0.0, TRUNCATION_MAX, 0.3,
              "truncation psi: lower is safer and more average, higher is wilder"),
        Param("latent", "truncation_cutoff", "int", 0, 0, max(num_ws, 1), 0,
              "truncate only the first N layers (0: all layers)"),
        Param("latent", "seed", "int", 0, 0, SEED_MAX, 0,
              "seed of the latent walk; a change glides to the new walk"),
        Param("latent", "next_seed", "trigger", 0, 0, 1, 0, "glide to the next seed"),
        Param("latent", "prev_seed", "trigger", 0, 0, 1, 0, "glide to the previous seed"),
        Param("latent", "pulse", "float", 0.0, 0.0, 1.0, 0.0,
              "push the latent outward from the model's average for a moment (truncation "
              f"lifted by up to {PULSE_REACH:g}); 0 at rest: map a beat or an onset here"),
        Param("latent", "motion", "float", 0.0, 0.0, 4.0, 0.0,
              "extra walk speed added to latent/speed; 0 at rest: map the loudness here"),
        *exposure_params(),
    ]


def pulsed_truncation(truncation: float, pulse: float) -> float:
    """Truncation psi with `latent/pulse` on top. StyleGAN normalises z, so pushing z itself
    outward changes nothing; pushing W away from its average is what psi does."""
    return min(truncation + PULSE_REACH * max(pulse, 0.0), TRUNCATION_MAX)


def seed_vectors(seed: int, count: int, z_dim: int) -> np.ndarray:
    """`count` standard-normal vectors of size `z_dim`, fixed by `seed`."""
    return np.random.default_rng(int(seed)).standard_normal((count, z_dim)).astype(np.float32)


def _on_shell(z: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(z))
    if norm < 1e-8:
        return z
    return z * (math.sqrt(z.shape[-1]) / norm)


def slerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    """Spherical interpolation: the path between two latents that keeps their norm."""
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    ua, ub = a / max(na, 1e-8), b / max(nb, 1e-8)
    omega = math.acos(float(np.clip(np.dot(ua, ub), -1.0, 1.0)))
    if omega < 1e-4:
        out = (1 - t) * a + t * b
    else:
        s = math.sin(omega)
        out = (math.sin((1 - t) * omega) * a + math.sin(t * omega) * b) / s
    return out.astype(np.float32)


class Walk:
    """One latent walk for one seed. `position(phase, beat)` gives z.

    - `noise`: a smooth looping path made of a few harmonics (phase 2*pi loops back).
    - `circle`: a great circle through two random latents.
    - `beats`: jumps to a new latent on every `beats_per_step` beats, easing in over the beat.
    - `still`: the seed's latent.
    """

    HARMONICS = 4

    def __init__(self, kind: str, seed: int, z_dim: int, beats_per_step: float = 4.0) -> None:
        if kind not in WALKS:
            raise ValueError(f"walk must be one of {', '.join(WALKS)}, not {kind!r}")
        self.kind, self.seed, self.z_dim = kind, int(seed), int(z_dim)
        self.beats_per_step = beats_per_step
        self._basis = seed_vectors(self.seed, 2 * self.HARMONICS, self.z_dim)

    def position(self, phase: float, beat: float = 0.0) -> np.ndarray:
        if self.kind == "still":
            return _on_shell(self._basis[0].copy())
        if self.kind == "circle":
            return _on_shell(math.cos(phase) * self._basis[0] + math.sin(phase) * self._basis[1])
        if self.kind == "noise":
            z = np.zeros(self.z_dim, dtype=np.float32)
            for k in range(self.HARMONICS):
                # Higher harmonics move faster but weigh less: a slow drift with some detail.
                weight = 1.0 / (k + 1)
                z += weight * (math.cos((k + 1) * phase) * self._basis[2 * k]
                               + math.sin((k + 1) * phase) * self._basis[2 * k + 1])
            return _on_shell(z)
        step = beat / self.beats_per_step
        index = math.floor(step)
        frac = step - index
        ease = frac * frac * (3 - 2 * frac)
        return _on_shell(slerp(self._keyframe(index), self._keyframe(index + 1), ease))

    def _keyframe(self, index: int) -> np.ndarray:
        return seed_vectors(self.seed * 100_003 + index, 1, self.z_dim)[0]


class LatentState:
    """The frame loop's latent: a walk that advances with `latent/speed` and glides across seeds.

    Changing seed doesn't cut: the old walk's position crossfades (slerp) into the new walk's
    over `glide` seconds, so `next seed` on stage is a move, not a jump. Besides the walks here,
    `kind` may be one of `liveGAN.latent.keyframes.WALK_KINDS` (keyframes, loop, momentum),
    made from the patch's `options` and keyframe `store`.
    """

    def __init__(self, kind: str, seed: int, z_dim: int, glide: float = 1.5,
                 options: dict | None = None, store=None) -> None:
        self.kind, self.z_dim, self.glide = kind, z_dim, glide
        self.options, self.store = dict(options or {}), store
        self._seed = int(seed)
        self.walk = self._make(kind, self._seed)
        self.phase = 0.0
        self._previous = None
        self._since_change = 0.0

    def _make(self, kind: str, seed: int):
        if kind in WALKS:
            return Walk(kind, seed, self.z_dim)
        from liveGAN.latent.keyframes import make_walk

        return make_walk(kind, seed, self.z_dim, self.options, self.store)

    @property
    def seed(self) -> int:
        return self._seed

    def set_seed(self, seed: int) -> None:
        if int(seed) == self._seed:
            return
        self._glide_to(self.kind, int(seed))

    def set_kind(self, kind: str, options: dict | None = None) -> None:
        """Glide to another walk (or the same kind with other options); LatentConfigError
        (nothing changes) when a keyframes / loop / momentum walk can't be made."""
        options = dict(options or {})
        if kind != self.kind or options != self.options:
            previous = self.options
            self.options = options
            try:
                self._glide_to(kind, self._seed)
            except Exception:
                self.options = previous
                raise
            self.kind = kind

    def _glide_to(self, kind: str, seed: int) -> None:
        walk = self._make(kind, seed)
        self._previous = self.walk
        self._since_change = 0.0
        self.walk, self._seed = walk, seed

    def advance(self, dt: float, speed: float, beat: float) -> np.ndarray:
        """Move along the walk by `dt * speed` radians of phase and return z."""
        self.phase += dt * speed
        z = self.walk.position(self.phase, beat)
        if self._previous is not None:
            self._since_change += dt
            t = min(self._since_change / self.glide, 1.0) if self.glide > 0 else 1.0
            if t >= 1.0:
                self._previous = None
            else:
                ease = t * t * (3 - 2 * t)
                z = _on_shell(slerp(self._previous.position(self.phase, beat), z, ease))
        return z
