"""The show's latent: a walk that advances with `latent/speed` and glides across seeds.

Place in the data flow: params + clock -> **state** (one walk at a time: the walks of
`walks.py`, or the keyframe / loop / momentum walks of `keyframes.py`) -> z for the generator.
"""
from __future__ import annotations

import numpy as np

from liveGAN.latent.keyframes import make_walk
from liveGAN.latent.walks import WALKS, Walk, on_shell, slerp


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
                z = on_shell(slerp(self._previous.position(self.phase, beat), z, ease))
        return z
