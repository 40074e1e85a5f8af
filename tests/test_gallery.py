"""The gallery of example patches: each one checks clean and renders, and the preview script
turns a render into an animated WebP. The gallery's list is the preview script's (one list)."""
from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from PIL import Image

from conftest import ROOT
from liveGAN.cli import main

_spec = importlib.util.spec_from_file_location("previews", ROOT / "scripts" / "previews.py")
previews = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(previews)

PRESENT = [name for name in previews.GALLERY if (previews.PATCHES / f"{name}.toml").is_file()]


def test_the_gallery_has_at_least_the_patches_of_this_issue():
    for name in ("default", "sg3", "feedback"):
        assert name in PRESENT
    assert len(previews.GALLERY) >= 6


@pytest.mark.parametrize("name", PRESENT)
def test_gallery_patch_checks_clean_and_renders(name, tmp_path, capsys):
    patch = previews.PATCHES / f"{name}.toml"
    assert main(["check", str(patch)]) == 0, capsys.readouterr().err
    out = tmp_path / f"{name}.mkv"
    assert main(["render", str(patch), "--out", str(out), "--frames", "3",
                 "--size", "64x36"]) == 0
    import av

    with av.open(str(out)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(frames) == 3 and frames[0].shape == (36, 64, 3)
    assert max(f.std() for f in frames) > 2  # a picture, not a flat field


def test_previews_script_writes_a_looping_webp(tmp_path, capsys):
    assert previews.main(["sg3", "--seconds", "1", "--fps", "4", "--width", "64",
                          "--out", str(tmp_path)]) == 0
    webp = tmp_path / "sg3.webp"
    with Image.open(webp) as image:
        assert image.format == "WEBP" and image.n_frames == 4 and image.size == (64, 36)  # 16:9
        assert image.info.get("loop", 0) == 0
        image.seek(3)
        assert np.asarray(image.convert("RGB")).std() > 1
    assert "sg3: 4 frames" in capsys.readouterr().out


def test_previews_script_names_what_is_missing(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(previews, "PATCHES", tmp_path)
    assert previews.main(["trained", "--out", str(tmp_path)]) == 0
    assert "trained: missing" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        previews.main(["nosuch"])
