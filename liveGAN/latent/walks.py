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


def on_shell(z: np.ndarray) -> np.ndarray:
    """z scaled to norm sqrt(dim), where Gaussian latents live."""
    norm = float(np.linalg.norm(z))
    return z if norm < 1e-8 else (z * (math.sqrt(z.shape[-1]) / norm)).astype(np.float32)


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
            return on_shell(self._basis[0].copy())
        if self.kind == "circle":
            return on_shell(math.cos(phase) * self._basis[0] + math.sin(phase) * self._basis[1])
        if self.kind == "noise":
            z = np.zeros(self.z_dim, dtype=np.float32)
            for k in range(self.HARMONICS):
                # Higher harmonics move faster but weigh less: a slow drift with some detail.
                weight = 1.0 / (k + 1)
                z += weight * (math.cos((k + 1) * phase) * self._basis[2 * k]
                               + math.sin((k + 1) * phase) * self._basis[2 * k + 1])
            return on_shell(z)
        step = beat / self.beats_per_step
        index = math.floor(step)
        frac = step - index
        ease = frac * frac * (3 - 2 * frac)
        return on_shell(slerp(self._keyframe(index), self._keyframe(index + 1), ease))

    def _keyframe(self, index: int) -> np.ndarray:
        return seed_vectors(self.seed * 100_003 + index, 1, self.z_dim)[0]
