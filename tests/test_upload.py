"""Frame upload into a real EGL texture: bytes, orientation, bad input, interop on CUDA."""
from __future__ import annotations

import numpy as np
import pytest
import torch

moderngl = pytest.importorskip("moderngl")

from liveGAN.render.upload import TextureUploader  # noqa: E402


@pytest.fixture(scope="module")
def ctx():
    try:
        context = moderngl.create_standalone_context(backend="egl")
    except Exception as exc:  # pragma: no cover - machines without EGL
        pytest.skip(f"no EGL context: {exc}")
    yield context
    context.release()


def _frame(height: int, width: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(height, width, 4), dtype=np.uint8)


def _read(texture) -> np.ndarray:
    width, height = texture.size
    return np.frombuffer(texture.read(), dtype=np.uint8).reshape(height, width, 4)


@pytest.mark.parametrize("kind", ["numpy", "torch"])
def test_host_upload_round_trips_bytes(ctx, kind):
    frame = _frame(24, 40)
    texture = ctx.texture((40, 24), 4)
    uploader = TextureUploader(ctx)
    uploader.upload(frame if kind == "numpy" else torch.from_numpy(frame), texture)
    assert uploader.mode == "host"
    np.testing.assert_array_equal(_read(texture), frame)
    texture.release()


def test_texture_row_zero_is_image_top_row_when_drawn(ctx):
    """Draw the texture with the documented sampling (v = 1 - y): the top of the framebuffer
    read-back (its last row, GL being bottom-left) must be the image's top row."""
    height, width = 8, 8
    frame = np.zeros((height, width, 4), np.uint8)
    frame[..., 3] = 255
    frame[0, :, 0] = 255  # image top row red
    frame[-1, :, 2] = 255  # image bottom row blue
    texture = ctx.texture((width, height), 4)
    texture.filter = (moderngl.NEAREST, moderngl.NEAREST)
    TextureUploader(ctx).upload(frame, texture)
    prog = ctx.program(
        vertex_shader="""#version 330
        in vec2 pos; out vec2 uv;
        void main() { uv = pos * 0.5 + 0.5; gl_Position = vec4(pos, 0.0, 1.0); }""",
        fragment_shader="""#version 330
        uniform sampler2D image; in vec2 uv; out vec4 color;
        void main() { color = texture(image, vec2(uv.x, 1.0 - uv.y)); }""")
    quad = ctx.buffer(np.array([-1, -1, 1, -1, -1, 1, 1, 1], dtype="f4").tobytes())
    vao = ctx.vertex_array(prog, [(quad, "2f", "pos")])
    fbo = ctx.simple_framebuffer((width, height))
    fbo.use()
    texture.use(0)
    vao.render(moderngl.TRIANGLE_STRIP)
    shown = np.frombuffer(fbo.read(components=4), np.uint8).reshape(height, width, 4)[::-1]
    assert (shown[0, :, 0] == 255).all() and (shown[0, :, 2] == 0).all()
    assert (shown[-1, :, 2] == 255).all() and (shown[-1, :, 0] == 0).all()
    for obj in (vao, quad, prog, fbo, texture):
        obj.release()


def test_bad_frames_are_refused_with_a_clear_message(ctx):
    texture = ctx.texture((16, 8), 4)
    uploader = TextureUploader(ctx)
    with pytest.raises(ValueError, match="frame shape"):
        uploader.upload(_frame(16, 8), texture)  # transposed size
    with pytest.raises(ValueError, match="uint8"):
        uploader.upload(np.zeros((8, 16, 4), np.float32), texture)
    rgb = ctx.texture((16, 8), 3)
    with pytest.raises(ValueError, match="RGBA8"):
        uploader.upload(_frame(8, 16), rgb)
    texture.release()
    rgb.release()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_interop_matches_host_bit_exactly(ctx):
    frame = torch.from_numpy(_frame(64, 96, seed=3)).cuda()
    interop_texture = ctx.texture((96, 64), 4)
    host_texture = ctx.texture((96, 64), 4)
    uploader = TextureUploader(ctx)
    uploader.upload(frame, interop_texture)
    TextureUploader(ctx, allow_interop=False).upload(frame, host_texture)
    np.testing.assert_array_equal(_read(interop_texture), _read(host_texture))
    np.testing.assert_array_equal(_read(host_texture), frame.cpu().numpy())
    uploader.release()
