"""The shader chain on real EGL (Mesa llvmpipe): each effect against a numpy reference, the fit
modes, orientation, the blend of two frames, the master fade, feedback, and hot reload."""
from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest

moderngl = pytest.importorskip("moderngl")

from liveGAN.render.chain import FrameUniforms, ShaderChain, Stage  # noqa: E402
from liveGAN.render.shaders import ShaderError  # noqa: E402

SIDE = 64
STRETCH = {"output/fit": 2}


@pytest.fixture(scope="module")
def ctx():
    try:
        context = moderngl.create_standalone_context(backend="egl")
    except Exception as exc:  # no EGL on this machine: nothing here can run
        pytest.skip(f"no EGL OpenGL context: {exc}")
    yield context
    context.release()


def upload(ctx, image: np.ndarray):
    """A generator frame: row 0 of `image` is the picture's top row."""
    image = np.ascontiguousarray(image, dtype=np.uint8)
    return ctx.texture((image.shape[1], image.shape[0]), 3, image.tobytes())


def picture(fbo) -> np.ndarray:
    """The output framebuffer read back the right way up, as float 0..255."""
    w, h = fbo.size
    return np.flipud(np.frombuffer(fbo.read(components=3), np.uint8).reshape(h, w, 3)).astype(float)


def blocks(side: int = SIDE, seed: int = 1) -> np.ndarray:
    """8x8 blocks of random colours: no symmetry, and flat areas for resampled checks."""
    coarse = np.random.default_rng(seed).uniform(20, 235, (8, 8, 3))
    return np.kron(coarse, np.ones((side // 8, side // 8, 1))).astype(np.uint8)


def asymmetric(side: int = SIDE, seed: int = 1) -> np.ndarray:
    """Random colour blocks plus a bright bar near the top left."""
    image = blocks(side, seed)
    image[2:10, 4:20] = (250, 250, 40)
    return image


def render_once(ctx, effects, image, values=None, uniforms=None, out_size=(SIDE, SIDE),
                frames=1, **kwargs):
    stages = [Stage(e) if isinstance(e, str) else e for e in effects]
    chain = ShaderChain(ctx, stages, out_size, **kwargs)
    tex = upload(ctx, image)
    try:
        for _ in range(frames):
            fbo = chain.render((tex, tex), 0.0, {**STRETCH, **(values or {})},
                               uniforms or FrameUniforms())
        return picture(fbo)
    finally:
        chain.release()
        tex.release()


def test_plain_chain_keeps_the_picture_the_right_way_up(ctx):
    image = asymmetric()
    out = render_once(ctx, [], image)
    assert np.abs(out - image).max() <= 1


def test_mix_blends_the_two_newest_frames(ctx):
    dark = np.full((32, 32, 3), 40, np.uint8)
    light = np.full((32, 32, 3), 240, np.uint8)
    chain = ShaderChain(ctx, [], (32, 32), work_size=32)
    a, b = upload(ctx, dark), upload(ctx, light)
    try:
        for amount in (0.0, 0.25, 1.0):
            out = picture(chain.render((a, b), amount, STRETCH, FrameUniforms()))
            assert np.abs(out - (40 + 200 * amount)).max() <= 1
    finally:
        chain.release()
        a.release()
        b.release()


def bilinear(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """GL's linear filtering with clamp-to-edge, in numpy."""
    def axis(n_out, n_in):
        s = np.clip((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0, n_in - 1)
        lo = np.floor(s).astype(int)
        return lo, np.minimum(lo + 1, n_in - 1), s - lo
    y0, y1, fy = axis(height, image.shape[0])
    x0, x1, fx = axis(width, image.shape[1])
    img = image.astype(float)
    top = img[y0][:, x0] * (1 - fx[None, :, None]) + img[y0][:, x1] * fx[None, :, None]
    low = img[y1][:, x0] * (1 - fx[None, :, None]) + img[y1][:, x1] * fx[None, :, None]
    return top * (1 - fy[:, None, None]) + low * fy[:, None, None]


def test_generator_frame_of_another_size_is_scaled_linearly(ctx):
    image = asymmetric(16, seed=7)
    # A 16² frame into a 64² chain, with `[output] upscale = "bilinear"` (tests/test_upscale.py
    # has the other filters).
    out = render_once(ctx, [], image, {"output/upscale": 0})
    assert np.abs(out - bilinear(image, SIDE, SIDE)).max() <= 2


def test_a_wide_generator_frame_keeps_its_aspect_in_letterbox(ctx):
    wide = blocks(SIDE, seed=4)[:32]  # 64 wide, 32 high
    out = render_once(ctx, [], wide, {"output/fit": 0}, out_size=(SIDE, SIDE))
    assert out[:14].max() == 0 and out[-14:].max() == 0  # bars above and below
    # Block middles (the frame goes through the square working buffer and back, which blurs
    # the block edges a little) match the frame itself.
    rows = np.array([3, 4, 11, 12, 19, 20, 27, 28])
    assert np.abs(out[16 + rows] - wide[rows]).max() <= 3
    stretched = render_once(ctx, [], wide, {"output/fit": 2}, out_size=(SIDE, SIDE))
    assert stretched[:14].min() > 0


def test_frames_reuse_the_same_gl_objects(ctx):
    chain = ShaderChain(ctx, [Stage("feedback"), Stage("grade")], (48, 32))
    tex = upload(ctx, asymmetric())
    try:
        first = chain.render((tex, tex), 0.5, {}, FrameUniforms())
        glo = first.glo
        for frame in range(5):
            fbo = chain.render((tex, tex), 0.5, {}, FrameUniforms(frame=frame))
            assert fbo is first and fbo.glo == glo and fbo.size == (48, 32)
        chain.resize((20, 30))
        assert chain.render((tex, tex), 0.5, {}, FrameUniforms()).size == (20, 30)
        assert chain.work_size == 30
    finally:
        chain.release()
        tex.release()


def test_fade_zero_is_black_and_half_is_half(ctx):
    image = asymmetric()
    assert render_once(ctx, ["grade"], image, uniforms=FrameUniforms(fade=0.0)).max() == 0
    half = render_once(ctx, [], image, uniforms=FrameUniforms(fade=0.5))
    assert np.abs(half - image * 0.5).max() <= 1.5


# -- fit ------------------------------------------------------------------------------------------

def fit_reference(image: np.ndarray, width: int, height: int, mode: int):
    """Nearest-sample reference of the fit modes and a mask of pixels away from any edge."""
    src_h, src_w = image.shape[:2]
    ys, xs = np.mgrid[0:height, 0:width]
    u = (xs + 0.5) / width
    v = (ys + 0.5) / height  # v from the top, in picture terms
    out_aspect, in_aspect = width / height, src_w / src_h
    ratio = out_aspect / in_aspect
    sx = sy = 1.0
    if mode == 0:
        sx, sy = (ratio, 1.0) if ratio > 1 else (1.0, 1.0 / ratio)
    elif mode == 1:
        sx, sy = (1.0, 1.0 / ratio) if ratio > 1 else (ratio, 1.0)
    su, sv = (u - 0.5) * sx + 0.5, (v - 0.5) * sy + 0.5
    inside = (su >= 0) & (su <= 1) & (sv >= 0) & (sv <= 1)
    col = np.clip((su * src_w).astype(int), 0, src_w - 1)
    row = np.clip((sv * src_h).astype(int), 0, src_h - 1)
    reference = np.where(inside[..., None], image[row, col], 0).astype(float)
    # Pixels within about a texel of a colour edge or the bar border are left out of the check.
    tx, ty = su * src_w, sv * src_h
    far = (np.abs(tx - np.round(tx / 8) * 8) > 1.5) & (np.abs(ty - np.round(ty / 8) * 8) > 1.5)
    edge = np.minimum(np.abs(su - np.round(su)), np.abs(sv - np.round(sv))) < 0.04
    return reference, far & ~edge


@pytest.mark.parametrize("mode", [0, 1, 2])
@pytest.mark.parametrize("size", [(96, 48), (40, 80)])
def test_fit_modes_on_a_non_square_output(ctx, mode, size):
    image = blocks(seed=3)
    out = render_once(ctx, [], image, {"output/fit": mode}, out_size=size)
    reference, mask = fit_reference(image, *size, mode)
    assert out.shape == (size[1], size[0], 3)
    assert mask.sum() > 100
    assert np.abs(out - reference)[mask].max() <= 3
    if mode == 0:  # letterbox bars are exactly black
        assert out[~np.any(reference > 0, axis=2) & mask].max() == 0


# -- effects --------------------------------------------------------------------------------------

def grade_reference(image, brightness=0.0, contrast=1.0, saturation=1.0, gamma=1.0, invert=False):
    c = image / 255.0
    c = (c - 0.5) * contrast + 0.5 + brightness
    luma = c @ np.array([0.2126, 0.7152, 0.0722])
    c = luma[..., None] + (c - luma[..., None]) * saturation
    c = np.clip(c, 0, 1) ** (1 / gamma)
    return (1 - c if invert else c) * 255


@pytest.mark.parametrize("settings", [
    {"invert": True},
    {"contrast": 1.7},
    {"contrast": 0.4, "brightness": 0.1},
    {"gamma": 2.2},
    {"saturation": 0.0},
    {"saturation": 1.8, "gamma": 0.6, "invert": True},
])
def test_grade_matches_numpy(ctx, settings):
    image = np.random.default_rng(5).integers(0, 256, (SIDE, SIDE, 3)).astype(np.uint8)
    values = {f"grade/{k}": float(v) for k, v in settings.items()}
    out = render_once(ctx, ["grade"], image, values)
    assert np.abs(out - grade_reference(image, **settings)).max() <= 2


def test_mirror_left_onto_right_and_top_onto_bottom(ctx):
    image = asymmetric()
    out = render_once(ctx, ["mirror"], image, {"mirror/mode": 1})
    reference = image.astype(float).copy()
    reference[:, 32:] = image[:, :32][:, ::-1]
    assert np.abs(out - reference).max() <= 1
    out = render_once(ctx, ["mirror"], image, {"mirror/mode": 2})
    reference = image.astype(float).copy()
    reference[32:] = image[:32][::-1]
    assert np.abs(out - reference).max() <= 1


def test_mirror_tiles_alternate_reflections(ctx):
    image = asymmetric()
    out = render_once(ctx, ["mirror"], image, {"mirror/mode": 0, "mirror/tiles": 2})
    # Each tile samples between texels: a 2x2 box average of the picture. GL's tile (0, 0) is
    # the bottom left; odd tiles are reflected, so the top row of tiles is upside down.
    small = image.astype(float).reshape(32, 2, 32, 2, 3).mean(axis=(1, 3))
    top = np.concatenate([np.flipud(small), np.flipud(np.fliplr(small))], axis=1)
    bottom = np.concatenate([small, np.fliplr(small)], axis=1)
    reference = np.concatenate([top, bottom], axis=0)
    assert np.abs(out - reference).max() <= 2


@pytest.mark.parametrize("angle, axis", [(0.0, 1), (0.25, 0)])
def test_rgbshift_moves_red_and_blue_opposite_ways(ctx, angle, axis):
    image = asymmetric()
    shift = 4
    out = render_once(ctx, ["rgbshift"], image,
                      {"rgbshift/amount": shift / SIDE, "rgbshift/angle": angle})
    index = np.arange(SIDE)
    # Along x red comes from the right; along GL's y (up) red comes from the row above.
    step = shift if axis == 1 else -shift
    red_from = np.clip(index + step, 0, SIDE - 1)
    blue_from = np.clip(index - step, 0, SIDE - 1)
    reference = image.astype(float).copy()
    reference[..., 0] = np.take(image[..., 0], red_from, axis=axis)
    reference[..., 2] = np.take(image[..., 2], blue_from, axis=axis)
    assert np.abs(out - reference).max() <= 1
    assert np.abs(out - image).max() > 50


def test_kaleido_has_the_symmetry_of_its_segments(ctx):
    image = asymmetric()
    out = render_once(ctx, ["kaleido"], image, {"kaleido/segments": 4, "kaleido/angle": 0.0})
    assert np.abs(out - np.rot90(out)).max() <= 3  # fourfold rotation
    assert np.abs(out - np.flipud(out)).max() <= 3  # and mirrored across the fold
    assert out.std() > 10 and np.abs(out - image).mean() > 10
    three = render_once(ctx, ["kaleido"], image, {"kaleido/segments": 3})
    assert np.abs(three - np.rot90(three)).mean() > 5  # 3 wedges are not fourfold


def test_feedback_trail_decays_frame_by_frame(ctx):
    white = np.full((SIDE, SIDE, 3), 255, np.uint8)
    black = np.zeros_like(white)
    chain = ShaderChain(ctx, [Stage("feedback")], (SIDE, SIDE))
    values = {**STRETCH, "feedback/amount": 1.0, "feedback/decay": 0.6,
              "feedback/zoom": 1.0, "feedback/rotate": 0.0}
    lit, dark = upload(ctx, white), upload(ctx, black)
    try:
        seen = [picture(chain.render((lit, lit), 0.0, values, FrameUniforms()))[32, 32, 0]]
        for frame in range(1, 6):
            fbo = chain.render((dark, dark), 0.0, values, FrameUniforms(frame=frame))
            seen.append(picture(fbo)[32, 32, 0])
        expected = 255 * 0.6 ** np.arange(6)
        assert np.abs(np.array(seen) - expected).max() <= 1.5
        # amount 0 switches the trail off at once
        values["feedback/amount"] = 0.0
        chain.render((lit, lit), 0.0, values, FrameUniforms())
        assert picture(chain.render((dark, dark), 0.0, values, FrameUniforms())).max() == 0
    finally:
        chain.release()
        lit.release()
        dark.release()


def test_two_feedback_stages_keep_separate_histories(ctx):
    image = asymmetric()
    chain = ShaderChain(ctx, [Stage("feedback", "trail_a"), Stage("grade"),
                              Stage("feedback", "trail_b")], (SIDE, SIDE))
    keys = {p.key for p in chain.params()}
    assert {"trail_a/decay", "trail_b/decay", "grade/gamma", "output/fit"} <= keys
    tex = upload(ctx, image)
    try:
        for frame in range(3):
            out = picture(chain.render((tex, tex), 0.0, STRETCH, FrameUniforms(frame=frame)))
        assert np.abs(out - image).mean() < 40  # lighten trails of a still image stay near it
    finally:
        chain.release()
        tex.release()


def test_displace_moves_pixels_but_keeps_the_mean_and_animates(ctx):
    image = asymmetric()
    values = {"displace/amount": 0.08, "displace/scale": 3.0, "displace/speed": 1.0}
    first = render_once(ctx, ["displace"], image, values, FrameUniforms(time=0.0))
    later = render_once(ctx, ["displace"], image, values, FrameUniforms(time=2.0))
    assert np.abs(first - image).mean() > 5
    assert abs(first.mean() - image.mean()) < 0.05 * image.mean()
    assert np.abs(first - later).mean() > 2


LUMA = np.array([0.2126, 0.7152, 0.0722])


def exposure_reference(image, level, target=0.3, max_gain=4.0, min_gain=0.5, knee=0.7,
                       contrast=1.0):
    """The auto-exposure effect in numpy: spread around the mean colour by `contrast`, gain
    towards `target`, highlights rolled off."""
    mean = image.reshape(-1, 3).mean(axis=0) / 255.0
    spread = np.maximum(mean + (image / 255.0 - mean) * contrast, 0.0)
    x = spread * np.clip(target / max(level, 1e-4), min_gain, max_gain)
    room = 1.0 - knee
    shoulder = knee + room * (1.0 - np.exp(-np.maximum(x - knee, 0.0) / room))
    return np.where(x > knee, shoulder, x) * 255.0


def exposure_frames(ctx, images, values=None, fps=60.0):
    """Play `images` (one per frame) through an auto-exposure chain; the pictures shown.
    `values` is one dict of param values for every frame, or a list with one per frame."""
    chain = ShaderChain(ctx, [Stage("autoexposure")], (SIDE, SIDE))
    textures = {}
    try:
        shown = []
        for frame, image in enumerate(images):
            key = id(image)
            if key not in textures:
                textures[key] = upload(ctx, image)
            tex = textures[key]
            these = values[frame] if isinstance(values, list) else values
            fbo = chain.render((tex, tex), 1.0, {**STRETCH, **(these or {})},
                               FrameUniforms(time=frame / fps, frame=frame))
            shown.append(picture(fbo))
        return shown
    finally:
        chain.release()
        for tex in textures.values():
            tex.release()


def test_an_effect_that_reads_a_mip_level_gets_the_frame_mean(ctx, tmp_path):
    (tmp_path / "mean.glsl").write_text(
        "// @effect the whole frame's mean colour\n"
        "void main() { frag_color = vec4(textureLod(u_input, vec2(0.5), 20.0).rgb, 1.0); }\n")
    image = asymmetric()
    out = render_once(ctx, ["mean"], image, search_path=[tmp_path])
    assert np.abs(out - image.reshape(-1, 3).mean(axis=0)).max() <= 1.5


def test_autoexposure_brings_a_dim_picture_to_its_target_at_once(ctx):
    image = np.random.default_rng(8).uniform(5, 40, (SIDE, SIDE, 3)).astype(np.uint8)
    level = float((image.reshape(-1, 3).mean(axis=0) / 255) @ LUMA)
    first = exposure_frames(ctx, [image])[0]
    assert np.abs(first - exposure_reference(image, level)).max() <= 1.5
    assert 0.27 * 255 < first.mean() < 0.33 * 255  # the target, 0.3
    bright = np.full((SIDE, SIDE, 3), 250, np.uint8)
    calmed = exposure_frames(ctx, [bright])[0]
    assert np.abs(calmed - 125).max() <= 1.5  # min_gain 0.5
    black = np.zeros((SIDE, SIDE, 3), np.uint8)
    assert exposure_frames(ctx, [black])[0].max() == 0  # nothing to lift


def test_autoexposure_follows_a_change_with_its_time_constant(ctx):
    dim = np.full((SIDE, SIDE, 3), 30, np.uint8)
    mid = np.full((SIDE, SIDE, 3), 90, np.uint8)
    adapt = 0.5
    shown = exposure_frames(ctx, [dim] * 10 + [mid] * 140, {"autoexposure/adapt": adapt})
    follow = 1.0 - np.exp(-(1 / 60) / adapt)
    level = 30 / 255
    for frame in range(1, 150):
        level += ((30 if frame < 10 else 90) / 255 - level) * follow
        assert np.abs(shown[frame] - exposure_reference(dim if frame < 10 else mid, level)
                      ).max() <= 2, frame
    # A quarter second after the change the picture is still over-exposed; after 4.7 time
    # constants it has settled.
    assert shown[25].mean() > shown[149].mean() + 20
    assert abs(shown[149].mean() - exposure_reference(mid, 90 / 255).mean()) < 2


def test_autoexposure_rolls_highlights_off_and_can_be_bypassed(ctx):
    image = np.zeros((SIDE, SIDE, 3), np.uint8)
    image[:, : SIDE // 8] = 200  # a bright bar on black: mean level about 0.1
    out = exposure_frames(ctx, [image])[0]
    assert out[:, 0].min() > 235 and out.max() <= 255  # rolled off below white, not clipped
    level = float((image.reshape(-1, 3).mean(axis=0) / 255) @ LUMA)
    assert np.abs(out - exposure_reference(image, level)).max() <= 1.5
    bypassed = exposure_frames(ctx, [image], {"autoexposure/bypass": 1})[0]
    assert np.abs(bypassed - image).max() <= 1
    # Just above the knee the shoulder already bends: 140 gained 1.53x is 207, not 214.
    shoulder = np.full((SIDE, SIDE, 3), 20, np.uint8)
    shoulder[:, : SIDE // 4] = 140
    out = exposure_frames(ctx, [shoulder])[0]
    level = float((shoulder.reshape(-1, 3).mean(axis=0) / 255) @ LUMA)
    assert np.abs(out - exposure_reference(shoulder, level)).max() <= 1.5
    assert out[:, 0].max() < 140 * (0.3 / level) - 4


def test_autoexposure_contrast_spreads_around_the_mean_colour(ctx):
    image = (np.random.default_rng(9).uniform(70, 90, (SIDE, SIDE, 3))
             + np.array([0, 10, 20])).astype(np.uint8)  # washed out, a little blue
    level = float((image.reshape(-1, 3).mean(axis=0) / 255) @ LUMA)
    out = exposure_frames(ctx, [image], {"autoexposure/contrast": 6.0})[0]
    assert np.abs(out - exposure_reference(image, level, contrast=6.0)).max() <= 2
    def within(picture):  # the spread inside each channel
        return (picture - picture.reshape(-1, 3).mean(axis=0)).std()
    assert within(out) > 4 * within(image.astype(float))
    plain = exposure_frames(ctx, [image])[0]
    assert abs(out.mean() - plain.mean()) < 3  # spread, not brighter or darker


def test_autoexposure_keeps_following_while_bypassed(ctx):
    dim = np.full((SIDE, SIDE, 3), 30, np.uint8)
    mid = np.full((SIDE, SIDE, 3), 90, np.uint8)
    bypass = [{"autoexposure/bypass": 1, "autoexposure/adapt": 0.1}] * 60
    shown = exposure_frames(ctx, [dim] + [mid] * 61, [{}] + bypass + [{}])
    assert np.abs(shown[30] - mid).max() <= 1
    # Back on: already exposed for the brighter picture (0.3 / (90/255)), no pumping.
    assert np.abs(shown[-1] - exposure_reference(mid, 90 / 255)).max() <= 2


def test_pixelate_strobe_and_bloom(ctx):
    image = asymmetric()
    blocky = render_once(ctx, ["pixelate"], image, {"pixelate/cells": 8})
    blocks = blocky.reshape(8, 8, 8, 8, 3)
    assert np.abs(blocks - blocks[:, :1, :, :1]).max() <= 1
    flash = {"strobe/amount": 1.0, "strobe/every": 1.0, "strobe/duty": 0.2}
    on = render_once(ctx, ["strobe"], image, flash, FrameUniforms(beat=4.1))
    off = render_once(ctx, ["strobe"], image, flash, FrameUniforms(beat=4.5))
    assert on.min() >= 254 and np.abs(off - image).max() <= 1
    spot = np.zeros((SIDE, SIDE, 3), np.uint8)
    spot[28:36, 28:36] = 255
    glow = render_once(ctx, ["bloom"], spot, {"bloom/radius": 0.06})
    assert glow[32, 26].min() > 10 and glow[32, 37].min() > 10  # light spills both ways
    assert glow[32, 32].min() >= 254 and glow[2, 2].max() == 0


def test_every_shipped_effect_compiles_in_one_chain(ctx):
    from liveGAN.render.shaders import list_effects, search_path

    names = [n for n in list_effects(search_path()) if n != "fit"]
    assert {"feedback", "kaleido", "grade", "rgbshift", "displace", "mirror"} <= set(names)
    uniforms = FrameUniforms(time=1.0, frame=3, beat=2.3, beat_phase=0.3, level=0.5, bass=0.4,
                             onset=1.0)
    out = render_once(ctx, names, asymmetric(), uniforms=uniforms)
    assert out.shape == (SIDE, SIDE, 3)
    # A picture came through every stage: not a flat colour (an effect writing NaN or nothing
    # turns the output black or uniform), and it follows the input (another image, another
    # output).
    assert out.std() > 10 and 10 < out.mean() < 245
    other = render_once(ctx, names, asymmetric(seed=2)[::-1], uniforms=uniforms)
    assert np.abs(out - other).mean() > 5


def test_missing_effect_and_bad_stage_names(ctx, tmp_path):
    with pytest.raises(ShaderError, match="stage name"):
        ShaderChain(ctx, [Stage("grade", "my grade")], (32, 32))
    with pytest.raises(ShaderError, match=r"'nosuch'.*" + str(tmp_path).replace("\\", "\\\\")):
        ShaderChain(ctx, [Stage("nosuch")], (32, 32), search_path=[tmp_path])
    with pytest.raises(ShaderError, match="twice|two stages"):
        ShaderChain(ctx, [Stage("grade"), Stage("grade")], (32, 32))
    with pytest.raises(ShaderError, match="fit"):
        ShaderChain(ctx, [Stage("fit")], (32, 32))


# -- hot reload -----------------------------------------------------------------------------------

TINT = """// @effect a test tint
uniform float gain;  // @param {gain} [0, 1] "multiplies the red channel"

void main() {{
    vec3 c = texture(u_input, v_uv).rgb;
    frag_color = vec4(c.r * gain, c.g, c.b, 1.0);
}}
"""


def write(path: Path, text: str) -> None:
    """Write and bump the mtime, so the change is seen even within one clock tick."""
    old = path.stat().st_mtime_ns if path.exists() else time.time_ns()
    path.write_text(text)
    os.utime(path, ns=(old + 10_000_000, old + 10_000_000))


def test_hot_reload_keeps_the_last_good_program_and_says_where(ctx, tmp_path):
    shader = tmp_path / "tint.glsl"
    write(shader, TINT.format(gain=0.5))
    messages: list[str] = []
    image = np.full((32, 32, 3), 200, np.uint8)
    chain = ShaderChain(ctx, [Stage("tint")], (32, 32), search_path=[tmp_path], log=messages.append)
    tex = upload(ctx, image)
    try:
        def red():
            return picture(chain.render((tex, tex), 0.0, STRETCH, FrameUniforms()))[16, 16, 0]

        assert abs(red() - 100) <= 1
        assert chain.check_reload() is False  # nothing changed

        broken = TINT.format(gain=0.5).replace("c.r * gain", "c.r * gain +")
        write(shader, broken)
        assert chain.check_reload() is False
        assert abs(red() - 100) <= 1  # the last good program keeps running
        assert len(messages) == 1 and f"{shader}:6" in messages[0], messages
        assert chain.check_reload() is False and len(messages) == 1  # said once

        write(shader, TINT.format(gain=0.5).replace("c.r * gain", "c.r * gain * 0.5"))
        assert chain.check_reload() is False  # same params, new program
        assert abs(red() - 50) <= 1

        write(shader, TINT.format(gain=0.25))  # a changed default is a changed declaration
        assert chain.check_reload() is True
        assert chain.params()[0].default == 0.25
        assert abs(red() - 50) <= 1

        write(shader, TINT.format(gain=0.5).replace("uniform float gain;", "uniform float gainx;"))
        assert chain.check_reload() is False  # a declared uniform that main never declared
        assert any(f"{shader}:" in m for m in messages[-1:])
    finally:
        chain.release()
        tex.release()


SLOW = """// @effect a test effect that takes far too long per frame
uniform float gain;  // @param 0.5 [0, 1] "unused weight"

void main() {
    vec3 c = texture(u_input, v_uv).rgb;
    float acc = v_uv.x;
    for (int i = 0; i < 4000; i++) {
        acc = fract(sin(acc * 12.9898 + float(i) * 0.001) * 43758.5453);
    }
    frag_color = vec4(c * 0.5 + acc * 0.001 * gain, 1.0);
}
"""


def test_a_shader_edit_too_slow_to_play_is_rejected_and_the_last_good_one_plays(ctx, tmp_path):
    from liveGAN.render.chain import WATCHDOG_FACTOR, WATCHDOG_MIN_MS

    shader = tmp_path / "tint.glsl"
    write(shader, TINT.format(gain=0.5))
    messages: list[str] = []
    image = np.full((128, 128, 3), 200, np.uint8)
    chain = ShaderChain(ctx, [Stage("tint")], (128, 128), search_path=[tmp_path],
                        log=messages.append)
    tex = upload(ctx, image)
    try:
        def red():
            return picture(chain.render((tex, tex), 0.0, STRETCH, FrameUniforms()))[64, 64, 0]

        assert abs(red() - 100) <= 1
        write(shader, SLOW)
        chain.check_reload()
        assert abs(red() - 100) <= 1  # the last good program plays on
        assert chain.reloaded == {}
        assert len(messages) == 1 and str(shader) in messages[0] and "too slow" in messages[0]
        assert f"{WATCHDOG_FACTOR:g}x" in messages[0] and f"{WATCHDOG_MIN_MS:g} ms" in messages[0]
        chain.check_reload()
        assert len(messages) == 1  # said once, until the file changes again
        # The slow program, drawn for real, is far over the limit (the rejection was right).
        started = time.perf_counter()
        slow = render_once(ctx, [Stage("tint")], image, out_size=(128, 128),
                           search_path=[tmp_path])
        assert time.perf_counter() - started > WATCHDOG_MIN_MS / 1000
        assert abs(slow[64, 64, 0] - 100) <= 2
        # A fixed edit is taken at once.
        write(shader, TINT.format(gain=0.5).replace("c.r * gain", "c.r * gain * 0.5"))
        chain.check_reload()
        assert abs(red() - 50) <= 1 and "tint" in chain.reloaded
    finally:
        chain.release()
        tex.release()


def test_reload_that_starts_using_feedback_gets_a_history(ctx, tmp_path):
    shader = tmp_path / "echo.glsl"
    write(shader, TINT.format(gain=1.0))
    chain = ShaderChain(ctx, [Stage("echo")], (16, 16), search_path=[tmp_path], log=lambda m: None)
    lit, dark = upload(ctx, np.full((16, 16, 3), 255, np.uint8)), upload(ctx, np.zeros((16, 16, 3)))
    try:
        write(shader, TINT.format(gain=1.0).replace(
            "frag_color = vec4(c.r * gain, c.g, c.b, 1.0);",
            "frag_color = vec4(max(c, texture(u_prev, v_uv).rgb * 0.5), 1.0);"))
        assert chain.check_reload() is False
        chain.render((lit, lit), 0.0, STRETCH, FrameUniforms())
        out = picture(chain.render((dark, dark), 0.0, STRETCH, FrameUniforms()))
        assert np.abs(out - 128).max() <= 1
    finally:
        chain.release()
        lit.release()
        dark.release()


def test_user_folder_overrides_a_shipped_effect(ctx, tmp_path):
    (tmp_path / "grade.glsl").write_text(TINT.format(gain=0.0))
    chain = ShaderChain(ctx, [Stage("grade")], (32, 32), search_path=[tmp_path])
    try:
        assert [p.key for p in chain.params()] == ["grade/gain", "output/fit", "output/upscale",
                                                   "output/upscale_output"]
    finally:
        chain.release()


def test_bad_declaration_in_a_user_shader_names_file_and_line(ctx, tmp_path):
    (tmp_path / "bad.glsl").write_text("// @effect x\n\nuniform float a; // @param 2 [0, 1]\n"
                                       "void main() { frag_color = vec4(a); }\n")
    with pytest.raises(ShaderError, match=r"bad\.glsl:3:.*outside"):
        ShaderChain(ctx, [Stage("bad")], (32, 32), search_path=[tmp_path])
