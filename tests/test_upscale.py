"""Enlarging a small generator frame: bilinear, bicubic (Catmull-Rom) or Lanczos-3, chosen in the
patch (`[output] upscale`), used where the chain enlarges the frame to the working size and where
the `fit` stage enlarges it to the output. Each filter against a numpy reference on real EGL."""
from __future__ import annotations

import math

import numpy as np
import pytest

from liveGAN.patch import read_patch
from liveGAN.render.chain import FrameUniforms, ShaderChain
from test_chain import ctx, picture, upload  # noqa: F401 - ctx: the GL context fixture

FILTERS = {"bilinear": 0, "bicubic": 1, "lanczos": 2}


def catmull_rom(t: np.ndarray) -> np.ndarray:
    t = np.abs(t)
    return np.where(t < 1, 1.5 * t**3 - 2.5 * t**2 + 1,
                    np.where(t < 2, -0.5 * t**3 + 2.5 * t**2 - 4 * t + 2, 0.0))


def lanczos3(t: np.ndarray) -> np.ndarray:
    t = np.abs(t)
    with np.errstate(invalid="ignore", divide="ignore"):
        value = 3 * np.sin(np.pi * t) * np.sin(np.pi * t / 3) / (np.pi * t) ** 2
    return np.where(t < 1e-6, 1.0, np.where(t < 3, value, 0.0))


def triangle(t: np.ndarray) -> np.ndarray:
    return np.clip(1 - np.abs(t), 0, None)


KERNELS = {"bilinear": (triangle, 1), "bicubic": (catmull_rom, 2), "lanczos": (lanczos3, 3)}


def resample_axis(image: np.ndarray, size: int, axis: int, kernel, radius: int) -> np.ndarray:
    """Resample `image` along `axis` to `size` samples, pixel centres aligned, edges clamped,
    weights normalised to sum 1."""
    n = image.shape[axis]
    x = (np.arange(size) + 0.5) * n / size - 0.5
    base = np.floor(x).astype(int)
    out = 0.0
    total = 0.0
    for k in range(-radius + 1, radius + 1):
        w = kernel(x - (base + k))
        index = np.clip(base + k, 0, n - 1)
        taken = np.take(image, index, axis=axis)
        shape = [1] * image.ndim
        shape[axis] = size
        out = out + taken * w.reshape(shape)
        total = total + w.reshape(shape)
    return out / total


def reference(image: np.ndarray, width: int, height: int, name: str) -> np.ndarray:
    kernel, radius = KERNELS[name]
    rows = resample_axis(image.astype(float), height, 0, kernel, radius)
    return np.clip(resample_axis(rows, width, 1, kernel, radius), 0, 255)


def smooth_noise(side: int, seed: int) -> np.ndarray:
    """Random colours with some large structure and some texel-level detail."""
    rng = np.random.default_rng(seed)
    coarse = np.kron(rng.uniform(30, 220, (4, 4, 3)), np.ones((side // 4, side // 4, 1)))
    return np.clip(coarse + rng.normal(0, 25, (side, side, 3)), 0, 255).astype(np.uint8)


def enlarge(ctx, image, out_size, name, work_size=None, fade=1.0, final=True):  # noqa: F811
    chain = ShaderChain(ctx, [], out_size, work_size=work_size)
    tex = upload(ctx, image)
    try:
        values = {"output/fit": 2, "output/upscale": FILTERS[name],
                  "output/upscale_output": float(final)}
        return picture(chain.render((tex, tex), 1.0, values, FrameUniforms(fade=fade)))
    finally:
        chain.release()
        tex.release()


@pytest.mark.parametrize("name", ["bilinear", "bicubic", "lanczos"])
def test_generator_frame_enlarged_to_the_working_size_matches_numpy(ctx, name):  # noqa: F811
    image = smooth_noise(12, seed=1)
    out = enlarge(ctx, image, (48, 48), name)  # 12² -> working 48² -> output 48² (1:1)
    expected = reference(image, 48, 48, name)
    assert np.abs(out - expected).max() <= 3
    assert np.abs(out - expected).mean() < 0.6


@pytest.mark.parametrize("name", ["bicubic", "lanczos"])
def test_fit_stage_enlarges_the_working_buffer_with_the_same_filter(ctx, name):  # noqa: F811
    image = smooth_noise(16, seed=2)
    # A 16² frame in a 16² working buffer: only the fit stage enlarges, to 56x40.
    out = enlarge(ctx, image, (56, 40), name, work_size=16)
    expected = reference(image, 56, 40, name)
    assert np.abs(out - expected).max() <= 3


def test_the_last_enlargement_can_stay_bilinear(ctx):  # noqa: F811
    """`upscale_output = false` (the default): the generator frame is enlarged to the working
    size with the patch's filter, and the working buffer to the output bilinearly."""
    image = smooth_noise(8, seed=6)
    out = enlarge(ctx, image, (64, 64), "lanczos", work_size=32, final=False)
    kernel, radius = KERNELS["lanczos"]
    rows = resample_axis(image.astype(float), 32, 0, kernel, radius)
    # The working buffer holds half floats: overshoot above white stays, below black is cut.
    working = np.maximum(resample_axis(rows, 32, 1, kernel, radius), 0)
    expected = reference(working, 64, 64, "bilinear")
    assert np.abs(out - expected).max() <= 3
    both = enlarge(ctx, image, (64, 64), "lanczos", work_size=32)
    assert np.abs(both - reference(working, 64, 64, "lanczos")).max() <= 3
    assert np.abs(both - out).max() > 4  # the two pictures do differ


def test_each_filter_is_its_own_program(ctx):  # noqa: F811
    """A software renderer runs every branch of a shader whatever a uniform says, so the fit
    effect is compiled once per filter with the filter as a constant."""
    chain = ShaderChain(ctx, [], (32, 32))
    try:
        sources = {}
        for choice in (0, 1, 2):
            chain._fit.match(choice)
            sources[choice] = chain._fit.program
        assert len({id(p) for p in sources.values()}) == 3
        assert chain._fit.program.get("upscale", None) is None  # a constant, not a uniform
    finally:
        chain.release()


def test_sharper_filters_keep_more_of_the_fine_detail(ctx):  # noqa: F811
    """Texel-level detail enlarged 8x: bilinear averages it away most, Lanczos least (the
    numpy references give 68 %, 82 % and 90 % of the original contrast)."""
    image = np.random.default_rng(5).uniform(60, 190, (16, 16, 3)).astype(np.uint8)
    kept = {name: enlarge(ctx, image, (128, 128), name).std() / image.std() for name in FILTERS}
    assert kept["bilinear"] < 0.72 < kept["bicubic"] < 0.86 < kept["lanczos"]


def test_shrinking_and_one_to_one_stay_bilinear(ctx):  # noqa: F811
    image = smooth_noise(64, seed=3)
    small = {name: enlarge(ctx, image, (40, 24), name, work_size=64) for name in FILTERS}
    assert np.abs(small["lanczos"] - small["bilinear"]).max() <= 1
    same = enlarge(ctx, image, (64, 64), "lanczos")
    assert np.abs(same - image).max() <= 1


def test_enlarging_is_not_faded_twice(ctx):  # noqa: F811
    image = smooth_noise(16, seed=4) // 2 + 40  # no overshoot past white to clip
    full = enlarge(ctx, image, (64, 64), "bicubic")
    half = enlarge(ctx, image, (64, 64), "bicubic", fade=0.5)
    assert np.abs(half - full * 0.5).max() <= 1.5


def test_the_patch_chooses_the_filter(tmp_path):
    def patch(line: str):
        path = tmp_path / "p.toml"
        path.write_text(f'[model]\npreset = "sg2-tiny"\n[output]\n{line}\n')
        return read_patch(path)

    chosen, problems = patch('upscale = "lanczos"\nupscale_output = false')
    assert not problems and chosen.values["output/upscale"] == 2
    assert chosen.values["output/upscale_output"] is False
    assert "output/upscale" not in patch("")[0].values  # the effect's default then
    _, problems = patch('upscale = "sharp"')
    assert [p.key for p in problems] == ["output.upscale"]
    assert "lanczos" in problems[0].expected


def test_upscale_defaults_to_bilinear_and_the_default_patch_asks_for_bicubic():
    """A patch that says nothing keeps the cheapest filter (a sharp one costs a CPU renderer
    about 10 ms a frame at 512²: a patch asks for it); the default patch enlarges its model
    bicubically, and bilinearly from the working size to the output."""
    from liveGAN.render.shaders import find_effect, parse_effect, search_path

    fit = {s.name: s for s in parse_effect(find_effect("fit", search_path())).params}
    assert (fit["upscale"].default, fit["upscale"].min, fit["upscale"].max) == (0, 0, 2)
    assert (fit["upscale_output"].kind, fit["upscale_output"].default) == ("bool", 0)
    assert math.isclose(fit["fit"].default, 0)
    from liveGAN.patch import load_patch
    from liveGAN.resources import default_patch

    values = load_patch(default_patch()).values
    assert values["output/upscale"] == 1 and values["output/upscale_output"] is False
