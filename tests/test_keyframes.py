"""Keyframes: kept beside the patch, walked through in beats, loops that close, drifting."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from liveGAN.latent import LatentConfigError
from liveGAN.latent.keyframes import (KeyframeStore, KeyframeWalk, LoopWalk, MomentumWalk,
                                      make_walk)

Z_DIM = 16


def shell(v):
    return v * (math.sqrt(v.size) / np.linalg.norm(v))


def kept_store(tmp_path, count=3, with_w=True):
    store = KeyframeStore.beside(tmp_path / "show.toml")
    rng = np.random.default_rng(0)
    for n in range(count):
        w = torch.from_numpy(rng.standard_normal((1, 4, 8)).astype(np.float32)) if with_w else None
        store.keep(n * 2, rng.standard_normal(Z_DIM), w, seed=100 + n)
    return store


def test_kept_keyframes_reach_the_file_beside_the_patch(tmp_path):
    store = kept_store(tmp_path)
    assert store.flush(10) and store.error is None
    path = tmp_path / "show.keyframes.safetensors"
    assert path.is_file() and sorted(p.name for p in tmp_path.iterdir()) == [path.name, ]
    again = KeyframeStore.beside(tmp_path / "show.toml")
    assert again.numbers() == [0, 2, 4]
    for n in (0, 2, 4):
        a, b = store.get(n), again.get(n)
        assert np.array_equal(a.z, b.z) and np.array_equal(a.w, b.w) and a.seed == b.seed
        assert b.w.shape == (4, 8)
    assert again.get(2).seed == 101 and again.get(1) is None
    with pytest.raises(LatentConfigError, match="0..999"):
        store.keep(1000, np.zeros(Z_DIM))
    with pytest.raises(LatentConfigError, match="NaN"):
        store.keep(5, np.full(Z_DIM, np.nan))


def test_a_broken_keyframes_file_is_one_message(tmp_path):
    path = tmp_path / "show.keyframes.safetensors"
    path.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}")
    with pytest.raises(LatentConfigError, match="show.keyframes.safetensors"):
        KeyframeStore(path)


def test_an_unwritable_folder_is_said_once_and_keeping_goes_on(tmp_path):
    messages = []
    store = KeyframeStore(tmp_path / "missing" / "k.safetensors", log=messages.append)
    store.keep(1, np.ones(Z_DIM))
    assert store.flush(10)
    store.keep(2, np.ones(Z_DIM))
    assert store.flush(10)
    assert store.get(2) is not None and store.error is not None
    assert len(messages) == 1 and "cannot write" in messages[0]


def test_the_walk_reaches_each_keyframe_on_its_beat(tmp_path):
    store = kept_store(tmp_path)
    frames = [store.get(n) for n in (0, 2, 4)]
    walk = KeyframeWalk(frames, beats=[2.0, 6.0, 4.0])
    assert walk.period == 12.0
    for beat, frame in ((0.0, frames[0]), (2.0, frames[1]), (8.0, frames[2]), (12.0, frames[0]),
                        (26.0, frames[1])):
        assert np.allclose(walk.position(0.0, beat), shell(frame.z), atol=1e-5)
        assert np.allclose(walk.ws_at(0.0, beat), frame.w, atol=1e-6)
    # Half way through the first step (smooth easing is symmetric): the slerp midpoint of two
    # equal-norm latents points along their sum, and W is the plain average.
    a, b = shell(frames[0].z), shell(frames[1].z)
    assert np.allclose(walk.position(0.0, 1.0), shell(a + b), atol=1e-5)
    assert np.allclose(walk.ws_at(0.0, 1.0), (frames[0].w + frames[1].w) / 2, atol=1e-6)
    # Without looping the walk holds the last keyframe.
    once = KeyframeWalk(frames, beats=2.0, loop=False)
    assert np.allclose(once.position(0.0, 50.0), shell(frames[2].z), atol=1e-5)


@pytest.mark.parametrize("ease", ["smooth", "linear", "spline"])
def test_keyframe_loops_are_continuous_at_the_seam(tmp_path, ease):
    store = kept_store(tmp_path, count=4)
    walk = KeyframeWalk([store.get(n) for n in store.numbers()], beats=4.0, ease=ease)
    period = walk.period
    for where in (walk.position, walk.ws_at):
        assert np.array_equal(where(0.0, 0.0), where(0.0, period))
        seam = np.linalg.norm(where(0.0, period + 1e-3) - where(0.0, period - 1e-3))
        typical = np.linalg.norm(where(0.0, 6.001) - where(0.0, 5.999))
        assert seam < 1e-2 and seam <= 3 * typical + 1e-6
        # No jump anywhere on the loop: small beat steps make small moves.
        path = [where(0.0, b) for b in np.arange(0.0, period + 0.05, 0.05)]
        steps = [np.linalg.norm(q - p) for p, q in zip(path, path[1:])]
        assert max(steps) < 0.5 * np.linalg.norm(path[0])


def test_a_loop_in_beats_closes_exactly_and_repeats():
    walk = LoopWalk(seed=5, z_dim=Z_DIM, period=8.0)
    assert np.array_equal(walk.position(0.0, 0.0), walk.position(0.0, 8.0))
    assert np.allclose(walk.position(0.0, 3.3), walk.position(0.0, 19.3), atol=1e-5)
    seam = np.linalg.norm(walk.position(0.0, 8.01) - walk.position(0.0, 7.99))
    typical = np.linalg.norm(walk.position(0.0, 4.01) - walk.position(0.0, 3.99))
    assert 0 < seam < 3 * typical
    assert np.linalg.norm(walk.position(0.0, 1.0)) == pytest.approx(4.0, rel=1e-4)
    assert not np.allclose(walk.position(0.0, 2.0), walk.position(0.0, 6.0))


def test_the_momentum_walk_is_a_pure_function_of_phase_and_seed():
    a, b = MomentumWalk(7, Z_DIM), MomentumWalk(7, Z_DIM)
    far_first = [a.position(p) for p in (40.0, 3.0, 40.0)]
    in_order = [b.position(p) for p in (3.0, 40.0)]
    assert np.array_equal(far_first[1], in_order[0]) and np.array_equal(far_first[0], in_order[1])
    assert np.array_equal(far_first[0], far_first[2])
    assert not np.allclose(MomentumWalk(8, Z_DIM).position(3.0), in_order[0])
    assert np.linalg.norm(in_order[1]) == pytest.approx(4.0, rel=1e-4)


def turning(walk, phases):
    """Mean cosine between successive moves of the walk."""
    points = [walk.position(p) for p in phases]
    moves = [q - p for p, q in zip(points, points[1:])]
    cosines = [np.dot(u, v) / (np.linalg.norm(u) * np.linalg.norm(v))
               for u, v in zip(moves, moves[1:])]
    return float(np.mean(cosines))


def test_momentum_keeps_the_direction_and_the_motion_smooth():
    phases = np.arange(0.0, 30.0, 1.0)
    steady = turning(MomentumWalk(3, 64, momentum=0.95), phases)
    jittery = turning(MomentumWalk(3, 64, momentum=0.0), phases)
    assert steady > 0.6 and jittery < 0.3
    walk = MomentumWalk(3, 64)
    fine = [walk.position(p) for p in np.arange(2.0, 3.0, 0.01)]
    steps = [np.linalg.norm(q - p) for p, q in zip(fine, fine[1:])]
    assert max(steps) < 2.5 * np.median(steps)


def test_make_walk_names_what_is_missing(tmp_path):
    store = kept_store(tmp_path)
    walk = make_walk("keyframes", 0, Z_DIM, {"keyframes": [4, 0], "beats": 2}, store)
    assert np.allclose(walk.position(0.0, 2.0), shell(store.get(0).z), atol=1e-5)
    with pytest.raises(LatentConfigError, match=r"nothing kept as \[7\]"):
        make_walk("keyframes", 0, Z_DIM, {"keyframes": [0, 7]}, store)
    assert isinstance(make_walk("loop", 1, Z_DIM, {"period": 4}), LoopWalk)
    with pytest.raises(LatentConfigError, match="momentum"):
        make_walk("momentum", 1, Z_DIM, {"momentum": 1.5})
    with pytest.raises(LatentConfigError, match="latent.walk"):
        make_walk("zigzag", 1, Z_DIM)
