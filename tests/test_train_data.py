"""Training data: real files of every supported kind decode, bad ones are skipped by name."""
from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

from liveGAN.train.data import (BatchSampler, DataError, decode_image, fit_square,  # noqa: E402
                                prepare)
from liveGAN.files import write_png  # noqa: E402


def _write_webp(path, rgb):
    import av

    h, w = rgb.shape[:2]
    with av.open(str(path), "w", format="webp") as container:
        stream = container.add_stream("libwebp")
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
        for packet in list(stream.encode(frame)) + list(stream.encode()):
            container.mux(packet)


def _write_pygame(path, rgb):
    import pygame

    pygame.image.save(pygame.surfarray.make_surface(rgb.transpose(1, 0, 2)), str(path))


@pytest.fixture
def folder(tmp_path):
    rng = np.random.default_rng(0)
    root = tmp_path / "imgs"
    (root / "sub" / "deeper").mkdir(parents=True)
    red = np.zeros((30, 50, 3), np.uint8)
    red[..., 0] = 200
    write_png(root / "wide.png", red)                                   # RGB, wide
    write_png(root / "sub" / "grey.png", np.full((40, 20), 100, np.uint8))  # grey, tall
    rgba = np.zeros((16, 16, 4), np.uint8)
    rgba[..., 1] = 255
    rgba[..., 3] = 128                                                  # half-transparent green
    write_png(root / "sub" / "alpha.png", rgba)
    _write_pygame(root / "sub" / "deeper" / "photo.jpg",
                  rng.integers(0, 255, (24, 24, 3), dtype=np.uint8))
    _write_pygame(root / "pic.bmp", rng.integers(0, 255, (10, 12, 3), dtype=np.uint8))
    _write_webp(root / "web.webp", np.full((16, 16, 3), 60, np.uint8))
    # Bad files: a truncated PNG and a text file pretending to be a JPEG.
    good = (root / "wide.png").read_bytes()
    (root / "truncated.png").write_bytes(good[: len(good) // 3])
    (root / "notes.jpg").write_text("this is not a picture")
    (root / "readme.txt").write_text("ignored: not an image suffix")
    return root


def test_every_format_decodes_and_bad_files_are_reported(folder, tmp_path):
    messages = []
    data = prepare(folder, 8, tmp_path / "cache", log=messages.append)
    assert data.images.shape == (6, 8, 8, 3) and data.images.dtype == np.uint8
    skipped = sorted(name for name, _ in data.skipped)
    assert skipped == ["notes.jpg", "truncated.png"]
    assert len(messages) == 1
    assert "2 unreadable" in messages[0]
    assert "notes.jpg" in messages[0] and "truncated.png" in messages[0]
    # Sorted file order: alpha (sub/) comes after pic.bmp and before sub/deeper/photo.jpg...
    names = ["pic.bmp", "sub/alpha.png", "sub/deeper/photo.jpg", "sub/grey.png", "web.webp",
             "wide.png"]
    alpha = data.images[names.index("sub/alpha.png")]
    assert abs(int(alpha[4, 4, 1]) - 128) <= 2 and alpha[4, 4, 0] == 0   # alpha over black
    grey = data.images[names.index("sub/grey.png")]
    assert np.all(np.abs(grey.astype(int) - 100) <= 1)                     # grey -> RGB
    wide = data.images[names.index("wide.png")]
    assert np.all(wide[..., 0] == 200) and np.all(wide[..., 1] == 0)
    webp = data.images[names.index("web.webp")]
    assert np.all(np.abs(webp.astype(int) - 60) <= 6)


def test_cache_is_reused_and_keyed_by_res(folder, tmp_path):
    first = prepare(folder, 8, tmp_path / "cache", log=lambda m: None)
    again = prepare(folder, 8, tmp_path / "cache", log=lambda m: None)
    assert again.from_cache and again.cache_path == first.cache_path
    assert sorted(n for n, _ in again.skipped) == ["notes.jpg", "truncated.png"]
    other = prepare(folder, 16, tmp_path / "cache", log=lambda m: None)
    assert not other.from_cache and other.images.shape[1] == 16


def test_empty_and_too_small_folders_are_clear_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no images found"):
        prepare(tmp_path / "empty", 8, tmp_path / "cache")
    with pytest.raises(DataError, match="not a folder"):
        prepare(tmp_path / "missing", 8, tmp_path / "cache")
    one = tmp_path / "one"
    one.mkdir()
    write_png(one / "a.png", np.zeros((4, 4, 3), np.uint8))
    (one / "b.png").write_bytes(b"garbage")
    with pytest.raises(DataError, match="only 1 readable"):
        prepare(one, 8, tmp_path / "cache", log=lambda m: None)


def test_crop_and_pad():
    image = np.zeros((20, 40, 3), np.uint8)
    image[:, :10] = 255                       # a white band on the left quarter
    cropped = fit_square(image, 20, "crop")   # keeps the centre 20 columns: no white
    padded = fit_square(image, 40, "pad")     # black rows above and below
    assert cropped.shape == (20, 20, 3) and cropped.max() == 0
    assert padded.shape == (40, 40, 3)
    assert padded[:10].max() == 0 and padded[10:30, :10].min() == 255


def test_decode_error_names_the_problem(tmp_path):
    bad = tmp_path / "x.png"
    bad.write_bytes(b"\x89PNG nope")
    with pytest.raises(ValueError):
        decode_image(bad)


def test_sampler_range_mirror_and_state(tmp_path):
    images = np.zeros((4, 8, 8, 3), np.uint8)
    images[:, :, :4] = 255                    # left half white
    sampler = BatchSampler(images, 64, mirror=True, seed=1)
    state = sampler.state()
    x = sampler.next()
    assert x.shape == (64, 3, 8, 8) and x.min() == -1 and x.max() == 1
    left_white = (x[:, 0, 0, 0] > 0).float().mean()
    assert 0.2 < left_white < 0.8             # about half were mirrored
    sampler.set_state(state)
    assert (sampler.next() == x).all()        # the same draw after restoring the state


def test_procedural_set_is_deterministic_varied_and_written(tmp_path):
    from liveGAN.train import procedural

    a = procedural.make_image(32, procedural.image_rng(0, 3))
    b = procedural.make_image(32, procedural.image_rng(0, 3))
    c = procedural.make_image(32, procedural.image_rng(1, 3))
    assert a.shape == (32, 32, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert procedural.main([str(tmp_path / "set"), "--count", "3", "--res", "16"]) == 0
    data = prepare(tmp_path / "set", 16, tmp_path / "cache", log=lambda m: None)
    assert data.images.shape == (3, 16, 16, 3) and not data.skipped
    # Vivid (the default): bright from edge to edge, colourful, never a black frame.
    vivid = np.stack([procedural.make_image(32, procedural.image_rng(0, i)) for i in range(12)])
    means = vivid.mean(axis=(1, 2, 3)) / 255
    assert means.min() > 0.2 and 0.3 < means.mean() < 0.6
    spread = vivid.max(axis=-1).astype(int) - vivid.min(axis=-1)     # per-pixel chroma
    assert np.median(spread) > 40
    # Classic (the first default model's set): mostly dark with bright parts, glow on black.
    classic = np.stack([procedural.make_image(32, procedural.image_rng(0, i), "classic")
                        for i in range(12)])
    assert np.median(classic) < 100 and classic.max() > 150
    with pytest.raises(ValueError, match="style must be one of vivid, classic"):
        procedural.make_image(32, procedural.image_rng(0, 0), "neon")


def test_grey_sets_are_told_apart_and_batches_take_one_channel():
    import torch

    from liveGAN.train.data import is_grey, to_tensor

    rng = np.random.default_rng(0)
    grey = np.repeat(rng.integers(0, 256, (5, 8, 8, 1), dtype=np.uint8), 3, axis=-1)
    colour = grey.copy()
    colour[4, 3, 3, 1] ^= 1                      # one value off in the last image
    assert is_grey(grey) and not is_grey(colour)
    assert not is_grey(colour, chunk=2)          # found in a later chunk too
    x = to_tensor(grey, channels=1)
    assert x.shape == (5, 1, 8, 8)
    assert torch.allclose(x, to_tensor(grey)[:, :1])
    sampler = BatchSampler(grey, 6, mirror=False, seed=0, channels=1)
    assert sampler.next().shape == (6, 1, 8, 8)
