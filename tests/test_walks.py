"""Latent walks: deterministic, on the Gaussian shell, looping, gliding across seeds."""
import math

import numpy as np
import pytest

from liveGAN.latent.state import LatentState
from liveGAN.latent.walks import Walk, slerp


@pytest.mark.parametrize("kind", ["noise", "circle", "beats", "still"])
def test_walk_is_deterministic_and_on_shell(kind):
    a, b = Walk(kind, 3, 64), Walk(kind, 3, 64)
    for phase, beat in [(0.0, 0.0), (1.3, 2.5), (7.0, 9.9)]:
        za, zb = a.position(phase, beat), b.position(phase, beat)
        assert np.array_equal(za, zb)
        assert np.linalg.norm(za) == pytest.approx(8.0, rel=1e-4)
    assert not np.array_equal(Walk(kind, 4, 64).position(1.0, 1.0), a.position(1.0, 1.0))


def test_noise_walk_loops_and_moves_smoothly():
    walk = Walk("noise", 1, 32)
    assert np.allclose(walk.position(0.0), walk.position(2 * math.pi), atol=1e-4)
    step = np.linalg.norm(walk.position(0.01) - walk.position(0.0))
    assert 0 < step < 0.2


def test_beats_walk_rests_on_a_latent_at_each_step_and_slerps_between():
    walk = Walk("beats", 1, 16, beats_per_step=2.0)
    stops = [walk.position(0, 2.0 * k) for k in range(4)]
    # A new latent on every step, each on the shell, and the same one for the same seed.
    assert all(not np.allclose(a, b, atol=1e-3) for a, b in zip(stops, stops[1:]))
    assert np.array_equal(Walk("beats", 1, 16, beats_per_step=2.0).position(0, 4.0), stops[2])
    # Eased: the walk rests at each stop (a tiny beat step barely moves it) ...
    assert np.linalg.norm(walk.position(0, 4.001) - stops[2]) < 1e-4
    assert np.linalg.norm(walk.position(0, 3.999) - stops[2]) < 1e-4
    # ... and in between it is on the great circle through two stops, strictly between them.
    for beat in (4.5, 5.0, 5.5):
        between = walk.position(0, beat)
        basis = np.stack([stops[2], stops[3]], axis=1)
        weights, *_ = np.linalg.lstsq(basis, between, rcond=None)
        assert np.allclose(basis @ weights, between, atol=1e-4) and (weights > 0.05).all()
    assert not np.allclose(Walk("beats", 2, 16, beats_per_step=2.0).position(0, 4.0), stops[2])


def test_slerp_endpoints():
    a, b = np.ones(4, np.float32), np.array([1, -1, 1, -1], np.float32)
    assert np.allclose(slerp(a, b, 0.0), a) and np.allclose(slerp(a, b, 1.0), b)


def test_seed_change_glides():
    state = LatentState("circle", 0, 16, glide=1.0)
    z0 = state.advance(0.0, 0.0, 0.0)
    state.set_seed(1)
    z_half = state.advance(0.5, 0.0, 0.0)
    z_end = state.advance(0.6, 0.0, 0.0)
    target = Walk("circle", 1, 16).position(0.0)
    assert not np.allclose(z_half, z0) and not np.allclose(z_half, target)
    assert np.allclose(z_end, target, atol=1e-5)
