"""The `livegan` command as a user types it: run, render, check, osc list, --help."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import av
import pytest

from liveGAN.cli import COMMANDS, main
from liveGAN.resources import default_patch

LIVEGAN = [sys.executable, "-m", "liveGAN.cli"]


def test_help_lists_every_command(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for name in COMMANDS:
        assert name in out


def test_run_default_patch_headless_records(tmp_path):
    out = tmp_path / "show.mp4"
    result = subprocess.run(LIVEGAN + ["run", "--headless", "--frames", "30", "--size",
                                       "320x180", "--record", str(out), "--no-osc"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    summary = result.stdout.strip().splitlines()[-1]
    assert summary.startswith("frames shown 30, generator frames ")
    assert "display interval p50" in summary and "late frames" in summary
    with av.open(str(out)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(frames) >= 30 and frames[0].shape == (180, 320, 3)
    # GAN imagery, not a flat colour. Which latents the real-time walk reaches in 30 frames
    # depends on the machine's load, and some of the default model's are dim: look at them all.
    assert max(f.std() for f in frames) > 8


def test_render_writes_exact_frames_with_a_progress_bar(tmp_path, capsys):
    out = tmp_path / "render.mkv"
    assert main(["render", "--out", str(out), "--frames", "10", "--size", "64x64"]) == 0
    with av.open(str(out)) as container:
        assert sum(1 for _ in container.decode(video=0)) == 10
    err = capsys.readouterr().err
    assert "render: 100%" in err and "10/10" in err


def test_check_good_and_bad(tmp_path, capsys):
    assert main(["check"]) == 0
    assert "ok" in capsys.readouterr().out
    bad = tmp_path / "bad.toml"
    bad.write_text(default_patch().read_text().replace('path = "models/default.safetensors"',
                                                       'path = "nowhere.pkl"')
                   .replace('walk = "noise"', 'walk = "zigzag"')
                   .replace('segments = 3', 'segmentz = 3'))
    assert main(["check", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "model.path" in err and "latent.walk" in err and "zigzag" in err
    assert "Traceback" not in err


def test_check_reports_everything_in_one_pass(tmp_path, capsys):
    """A missing model does not hide an unknown effect, and a bad mapping does not hide a bad
    value: one pass lists all of them."""
    bad = tmp_path / "bad.toml"
    bad.write_text(default_patch().read_text()
                   .replace('path = "models/default.safetensors"', 'path = "nowhere.pkl"')
                   .replace('effect = "kaleido"', 'effect = "kaleidoscope9"')
                   .replace('curve = "exp"', 'curve = "wobbly"')
                   .replace("bpm = 120", "bpm = 9000"))
    assert main(["check", str(bad)]) == 1
    err = capsys.readouterr().err
    for key in ("model.path", "shaders[1].effect", "mappings[0].curve", "clock.bpm"):
        assert key in err, (key, err)


def test_check_reports_unknown_params_and_effects(tmp_path, capsys):
    text = default_patch().read_text()
    text = text.replace('path = "models/default.safetensors"',
                        f'path = "{default_patch().parent / "models/default.safetensors"}"')
    text = text.replace('effect = "kaleido"', 'effect = "kaleidoscope9"')
    text = text.replace('saturation = 1.25', 'saturation = 99.0')
    bad = tmp_path / "bad.toml"
    bad.write_text(text)
    assert main(["check", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "kaleidoscope9" in err and "shaders[1].effect" in err
    assert "shaders[2].params.saturation" in err


def test_osc_list_shows_addresses(capsys):
    assert main(["osc", "list"]) == 0
    out = capsys.readouterr().out
    assert "/livegan/output/fade" in out and "/livegan/kaleido/segments" in out
    assert "/1/fader1" in out


def test_osc_list_shows_the_patch_values_not_the_defaults(tmp_path, capsys):
    patch = tmp_path / "p.toml"
    patch.write_text(default_patch().read_text()
                     .replace('path = "models/default.safetensors"',
                              f'path = "{default_patch().parent / "models/default.safetensors"}"')
                     .replace("segments = 3", "segments = 11"))
    assert main(["osc", "list", str(patch)]) == 0
    line = next(l for l in capsys.readouterr().out.splitlines()
                if l.startswith("/livegan/kaleido/segments"))
    assert line.split()[3] == "11"
