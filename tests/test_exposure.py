"""The exposure guide: measuring which latents render dark, steering the walk out of them.

Most tests use a made-up "generator" whose picture brightness is a known function of z, so the
expected direction and the dark region are known independently of the code under test; one
test measures a real (tiny, official-architecture) StyleGAN2, and one plays a whole show.
"""
from __future__ import annotations

import math
import threading

import numpy as np
import pytest

from liveGAN.latent.exposure import (DARK_LEVEL, FLOOR, ExposureGuide, cache_file, fit_direction,
                                     load_map, measure_exposure, model_brightness, save_map, steer)
from liveGAN.latent.walks import Walk, walk_params

Z_DIM = 24


def unit(seed: int, dim: int = Z_DIM) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal(dim)
    return (v / np.linalg.norm(v)).astype(np.float32)


def sigmoid_world(direction: np.ndarray, slope: float = 2.0):
    """A picture brightness that depends on z only through its position along `direction`
    (in standard deviations): dark below about -1, bright above."""
    def brightness_of(z: np.ndarray) -> np.ndarray:
        z = np.atleast_2d(z)
        s = z @ direction / (np.linalg.norm(z, axis=1) / math.sqrt(z.shape[1]))
        return 0.45 / (1.0 + np.exp(-slope * s))
    return brightness_of


# -- steer --------------------------------------------------------------------------------------

def test_steer_lifts_a_low_position_to_the_floor_and_keeps_the_norm():
    d = unit(1)
    rng = np.random.default_rng(2)
    for _ in range(20):
        z = rng.standard_normal(Z_DIM).astype(np.float32)
        z -= (z @ d + 3.0) * d  # three standard deviations on the dark side
        out = steer(z, d)
        assert np.linalg.norm(out) == pytest.approx(np.linalg.norm(z), rel=1e-5)
        scale = np.linalg.norm(z) / math.sqrt(Z_DIM)
        assert out @ d / scale > FLOOR - 0.25
        # Only the position along d moved (before the norm was restored).
        rest = lambda v: v - (v @ d) * d  # noqa: E731
        cosine = rest(out) @ rest(z) / (np.linalg.norm(rest(out)) * np.linalg.norm(rest(z)))
        assert cosine > 0.999


def test_steer_leaves_bright_latents_and_amount_zero_alone():
    d = unit(3)
    z = np.random.default_rng(4).standard_normal(Z_DIM).astype(np.float32)
    z += (FLOOR + 4.0 - z @ d) * d  # well above the floor
    assert np.linalg.norm(steer(z, d) - z) < 0.01 * np.linalg.norm(z)
    low = z - 8.0 * d
    assert np.array_equal(steer(low, d, amount=0.0), low)
    half = steer(low, d, amount=0.5) @ d
    assert low @ d < half < steer(low, d) @ d


def test_steer_is_smooth_along_a_walk():
    """A smooth walk stays smooth: no frame-to-frame jump larger than the walk's own steps."""
    d = unit(5)
    walk = Walk("circle", 11, Z_DIM)
    path = [walk.position(p) for p in np.linspace(0, 2 * np.pi, 400)]
    steered = [steer(z, d) for z in path]
    own = max(np.linalg.norm(b - a) for a, b in zip(path, path[1:]))
    jumps = max(np.linalg.norm(b - a) for a, b in zip(steered, steered[1:]))
    assert jumps < 2.0 * own


# -- measuring ---------------------------------------------------------------------------------

def test_fit_direction_finds_the_planted_direction():
    d = unit(6)
    z = np.random.default_rng(7).standard_normal((300, Z_DIM)).astype(np.float32)
    found = fit_direction(z, sigmoid_world(d)(z))
    assert found @ d > 0.95


def test_measurement_marks_dark_latents_and_steering_brightens_a_walk():
    d = unit(8)
    world = sigmoid_world(d)
    found = measure_exposure(world, Z_DIM, samples=192)
    assert found.usable, found.reason
    assert found.direction @ d > 0.9
    # 0.45 sigmoid(2 s) < 20/255 where s < -0.78: 22 % of Gaussian latents (3 sigma: 0.09).
    assert 0.13 < found.dark_fraction < 0.31
    before, after = found.checked
    assert before < DARK_LEVEL < after
    for seed in range(5):
        walk = Walk("noise", seed, Z_DIM)
        path = np.stack([walk.position(p) for p in np.linspace(0, 2 * np.pi, 200)])
        steered = np.stack([steer(z, found.direction) for z in path])
        assert world(steered).min() > 2 * DARK_LEVEL
    assert "the walk now keeps out of them" in found.describe()


def test_a_first_fit_is_handed_over_early_and_the_guide_glides_to_the_full_one():
    d = unit(14)
    world = sigmoid_world(d)
    early = []
    found = measure_exposure(world, Z_DIM, samples=192, early=64, on_early=early.append)
    assert len(early) == 1 and early[0].usable and 64 <= early[0].brightness.size < 64 + 8
    assert early[0].direction @ d > 0.8 and found.brightness.size == 192
    guide = ExposureGuide(None, Z_DIM, engage_s=1.0)
    guide.map = early[0]
    z = Walk("still", 1, Z_DIM).position(0.0)
    z = z - (z @ d + 3.0) * d
    guide.wait()  # engaged at once, steering with the first fit
    assert np.allclose(guide.steer(z, 1.0, 0.1), steer(z, early[0].direction), atol=1e-5)
    guide.map = found  # the full measurement lands
    moves = [guide.steer(z, 1.0, 0.1) for _ in range(60)]
    assert np.linalg.norm(moves[0] - steer(z, early[0].direction)) < \
        0.5 * np.linalg.norm(steer(z, found.direction) - steer(z, early[0].direction))
    assert np.allclose(moves[-1], steer(z, found.direction), atol=1e-4)


def test_no_dark_latents_or_a_fit_that_does_not_help_leaves_the_walk_alone():
    bright = measure_exposure(lambda z: np.full(len(z), 0.5), Z_DIM, samples=64)
    assert not bright.usable and "no dark latents" in bright.reason

    def unrelated(z):  # brightness that no direction in Z explains
        keys = np.abs((np.atleast_2d(z) * 1e4).astype(np.int64)).sum(axis=1)
        return (keys % 1000) / 1000.0 * 0.3
    noise = measure_exposure(unrelated, Z_DIM, samples=96)
    assert not noise.usable and "no better than random pushes" in noise.reason
    assert "walk not steered" in noise.describe()


def test_a_slow_model_is_given_up_on_within_the_budget():
    now = [0.0]
    calls = []

    def slow(z):
        calls.append(len(z))
        now[0] += 4.0 * len(z)  # four (fake) seconds per latent
        return np.full(len(z), 0.01)
    found = measure_exposure(slow, Z_DIM, samples=192, budget_s=30.0, clock=lambda: now[0])
    assert not found.usable and "too slow" in found.reason
    assert sum(calls) <= 9  # the first latent, one batch to judge the pace, no more


def test_measurement_stops_when_cancelled():
    cancel = threading.Event()
    seen = []

    def world(z):
        seen.append(len(z))
        if len(seen) == 2:
            cancel.set()
        return np.full(len(z), 0.2)
    assert measure_exposure(world, Z_DIM, samples=192, cancel=cancel) is None
    assert len(seen) == 2


def test_model_brightness_of_a_real_stylegan(tmp_path):
    from conftest import FIXTURES
    from liveGAN.models import load_generator

    G = load_generator(FIXTURES / "stylegan" / "sg2-tiny.safetensors", "cpu")
    brightness_of = model_brightness(G, truncation_psi=0.7)
    z = np.random.default_rng(0).standard_normal((3, G.z_dim)).astype(np.float32)
    values = brightness_of(z)
    import torch

    with torch.inference_mode():
        img = G.synthesis(G.mapping(torch.from_numpy(z), None, truncation_psi=0.7),
                          noise_mode="const")
    expected = ((img.clamp(-1, 1) + 1) / 2).mean(dim=(1, 2, 3)).numpy()
    assert values.shape == (3,) and np.allclose(values, expected, atol=1e-5)
    assert model_brightness(object()) is None


# -- the guide and its cache -------------------------------------------------------------------

def test_guide_steers_only_once_measured_and_glides_in():
    d = unit(9)
    release = threading.Event()
    world = sigmoid_world(d)

    def gated(z):
        release.wait(10)
        return world(z)
    guide = ExposureGuide(gated, Z_DIM, engage_s=1.0)
    dark = -4.0 * d * 1.0 + 0.1 * unit(10)
    dark *= math.sqrt(Z_DIM) / np.linalg.norm(dark)
    assert np.array_equal(guide.steer(dark, 0.0, 0.1), dark) and not guide.measuring
    assert np.array_equal(guide.steer(dark, 1.0, 0.1), dark)  # measuring, not measured yet
    assert guide.measuring
    release.set()
    assert guide.wait(10) and guide.map.usable
    full = steer(dark, guide.map.direction)
    live = ExposureGuide(None, Z_DIM, engage_s=1.0)
    live.map = guide.map
    partial = live.steer(dark, 1.0, 0.25)
    assert dark @ d < partial @ d < full @ d  # gliding in
    for _ in range(4):
        live.steer(dark, 1.0, 0.25)
    assert np.allclose(live.steer(dark, 1.0, 0.25), full, atol=1e-5)
    assert np.array_equal(live.steer(dark, 0.0, 0.25), dark)  # latent/avoid_dark = 0


def test_guide_reads_a_kept_measurement_instead_of_measuring(tmp_path):
    d = unit(12)
    calls = []

    def world(z):
        calls.append(len(z))
        return sigmoid_world(d)(z)
    path = tmp_path / "cache" / "model.exposure.npz"
    first = ExposureGuide(world, Z_DIM, samples=64, cache=lambda: path)
    assert first.wait(20) and not first.from_cache and path.is_file()
    measured = sum(calls)
    second = ExposureGuide(world, Z_DIM, samples=64, cache=lambda: path)
    assert second.wait(20) and second.from_cache and sum(calls) == measured
    assert np.array_equal(second.map.direction, first.map.direction)
    assert load_map(path, Z_DIM + 1) is None  # made for another latent size
    path.write_bytes(b"not a measurement")
    assert load_map(path, Z_DIM) is None


def test_cache_file_follows_the_model_content_and_xdg(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    model = tmp_path / "a.safetensors"
    model.write_bytes(b"one")
    first = cache_file(model, 0.9)
    assert first.parent == tmp_path / "xdg" / "livegan" / "exposure"
    assert cache_file(model, 0.7) != first
    other = tmp_path / "b.safetensors"
    other.write_bytes(b"one")
    assert cache_file(other, 0.9) == first  # same content, same measurement
    found = measure_exposure(sigmoid_world(unit(13)), Z_DIM, samples=48)
    save_map(first, found)
    again = load_map(first, Z_DIM)
    assert again.usable == found.usable and np.array_equal(again.brightness, found.brightness)


def test_avoid_dark_is_a_latent_param():
    params = {p.key: p for p in walk_params(12)}
    avoid = params["latent/avoid_dark"]
    assert (avoid.default, avoid.min, avoid.max, avoid.kind) == (1.0, 0.0, 1.0, "float")


# -- in a show ---------------------------------------------------------------------------------

def sigmoid_generator(direction: np.ndarray):
    """A torch "generator" with the standard API whose flat grey picture has the brightness of
    `sigmoid_world(direction)`."""
    import torch

    class Mapping(torch.nn.Module):
        def forward(self, z, c=None, truncation_psi=1.0, truncation_cutoff=None):
            return z[:, None, :]

    class Synthesis(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("direction", torch.from_numpy(direction))

        def forward(self, ws, noise_mode="const", force_fp32=True):
            w = ws[:, 0]
            s = w @ self.direction / (w.norm(dim=1) / math.sqrt(w.shape[1]))
            level = 0.45 * torch.sigmoid(2.0 * s)
            return (2.0 * level - 1.0)[:, None, None, None].expand(-1, 3, 16, 16).contiguous()

    class Generator(torch.nn.Module):
        z_dim = w_dim = Z_DIM
        c_dim, num_ws, img_resolution, img_channels = 0, 1, 16, 3

        def __init__(self):
            super().__init__()
            self.mapping = Mapping()
            self.synthesis = Synthesis()

    return Generator()


PATCH = """
[model]
preset = "stand-in"
[latent]
walk = "circle"
seed = {seed}
speed = 3.14159
[output]
size = [32, 32]
fps = 24
[[shaders]]
effect = "grade"
[params]
"latent/avoid_dark" = {avoid}
"""


@pytest.mark.parametrize("avoid", [0.0, 1.0])
def test_show_keeps_the_walk_out_of_the_dark(tmp_path, avoid):
    """A circle walk through a model's dark side: black frames without the guide, none with."""
    import av

    from liveGAN.models.controls import ModelControls
    from liveGAN.models.runtime import GeneratorRuntime
    from liveGAN.show.options import RunOptions
    from liveGAN.show.scene import ModelBundle
    from liveGAN.show.show import Show

    seed = 3
    first = Walk("circle", seed, Z_DIM)._basis[0]
    G = sigmoid_generator((first / np.linalg.norm(first)).astype(np.float32))
    bundle = ModelBundle(G, GeneratorRuntime(G, "cpu"), ModelControls(G))
    patch = tmp_path / "patch.toml"
    patch.write_text(PATCH.format(seed=seed, avoid=avoid))
    out = tmp_path / "walk.mp4"
    said = []
    Show(patch, RunOptions(headless=True, offline=True, frames=48, record=out, no_osc=True,
                           watch=False), print_fn=said.append, bundle=bundle).run()
    with av.open(str(out)) as container:
        means = [f.to_ndarray(format="rgb24").mean() for f in container.decode(video=0)]
    assert len(means) == 48
    # Turned off in the patch, the model is not even measured.
    assert any("exposure:" in line for line in said) == bool(avoid)
    if avoid:
        assert min(means) > 0.3 * 255
    else:
        assert min(means) < 0.05 * 255 and max(means) > 0.3 * 255


def test_the_patch_sets_avoid_dark_in_its_latent_table(tmp_path):
    from liveGAN.patch import check_params, read_patch
    from liveGAN.show.scene import scene_registry

    path = tmp_path / "p.toml"
    path.write_text('[model]\npreset = "sg2-tiny"\n[latent]\navoid_dark = 0.25\n')
    patch, problems = read_patch(path)
    assert not problems and patch.values["latent/avoid_dark"] == 0.25
    path.write_text('[model]\npreset = "sg2-tiny"\n[latent]\navoid_dark = 3\n')
    patch, problems = read_patch(path)
    problems += check_params(patch, scene_registry(12))
    assert [p.key for p in problems] == ["latent.avoid_dark"]
