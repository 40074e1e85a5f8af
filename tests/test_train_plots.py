"""Pictures of a training run: PNGs through Pillow, curves through matplotlib (optional)."""
import numpy as np
import pytest
from PIL import Image

from liveGAN.files import write_png
from liveGAN.train import plots


@pytest.mark.parametrize("shape,mode", [((5, 7), "L"), ((5, 7, 1), "L"), ((5, 7, 3), "RGB"),
                                        ((5, 7, 4), "RGBA")])
def test_png_round_trip(tmp_path, shape, mode):
    pixels = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    write_png(tmp_path / "a.png", pixels)
    with Image.open(tmp_path / "a.png") as img:
        assert img.mode == mode and img.size == (7, 5)
        assert np.array_equal(np.asarray(img), pixels.reshape(np.asarray(img).shape))
    assert [p.name for p in tmp_path.iterdir()] == ["a.png"]   # no temporary file left


def test_png_refuses_bad_pixels_and_keeps_the_old_file(tmp_path):
    write_png(tmp_path / "a.png", np.zeros((2, 2), np.uint8))
    before = (tmp_path / "a.png").read_bytes()
    with pytest.raises(ValueError, match="uint8"):
        write_png(tmp_path / "a.png", np.zeros((2, 2), np.float32))
    with pytest.raises(ValueError, match=r"\(2, 2, 2\)"):
        write_png(tmp_path / "a.png", np.zeros((2, 2, 2), np.uint8))
    assert (tmp_path / "a.png").read_bytes() == before


def test_grid_places_images_in_rows():
    import torch

    images = torch.full((5, 1, 4, 4), -1.0)
    images[1] = 1.0                                     # the second image is white
    grid = plots.image_grid(images, columns=3)
    assert grid.shape == (8, 12, 3)
    assert (grid[:4, 4:8] == 255).all() and (grid[:4, :4] == 0).all()
    assert (grid[4:, 8:] == 0).all()                    # the padding tile is black


def test_curves_draw_one_panel_per_metric_group(tmp_path):
    pytest.importorskip("matplotlib")
    history = [{"kimg": k, "loss_G": 2 - k / 10, "loss_D": 0.5, "swd": 100 / (k + 1)}
               for k in range(6)]
    plots.draw_curves(history, tmp_path / "curves.png", width=600, panel_height=150)
    with Image.open(tmp_path / "curves.png") as img:
        pixels = np.asarray(img.convert("RGB"))
    assert pixels.shape == (300, 600, 3)                # losses + SWD: two panels
    # loss_G's orange and SWD's yellow are drawn; the ADA panel's green is not.
    colours = {tuple(c) for c in pixels.reshape(-1, 3)}
    assert (255, 140, 60) in colours and (255, 230, 80) in colours
    assert (120, 230, 120) not in colours


def test_training_without_matplotlib_says_so_once(tmp_path, monkeypatch):
    from liveGAN.train.loop import TrainConfig, train

    data = tmp_path / "data"
    data.mkdir()
    for i in range(4):
        write_png(data / f"{i}.png", np.random.default_rng(i).integers(0, 256, (16, 16, 3),
                                                                       dtype=np.uint8))
    monkeypatch.setattr(plots, "curves_available", lambda: False)
    lines = []
    cfg = TrainConfig(data=str(data), out=str(tmp_path / "run"), res=16, batch=4, kimg=0.008,
                      tick=0.004, swd_images=4, grid=4, threads=1, progress=False)
    assert train(cfg, log=lines.append) == 0
    assert sum("matplotlib is not installed" in line for line in lines) == 1
    assert not (tmp_path / "run" / "curves.png").exists()
    assert (tmp_path / "run" / "model.safetensors").exists()
