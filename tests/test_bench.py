"""`livegan bench` and the presets: the report's fields, errors, JSON output, random presets.

Behaviour only (what is printed, that it finishes); speed is measured, never asserted.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from liveGAN.commands import bench
from liveGAN.models.presets import PRESETS, build_preset, preset_config

FIXTURES = Path(__file__).parent / "fixtures" / "stylegan"


def run_bench(argv, capsys):
    code = bench.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def number(pattern: str, text: str) -> float:
    match = re.search(pattern, text)
    assert match, f"{pattern!r} not in:\n{text}"
    return float(match.group(1))


def _has_moderngl() -> bool:
    try:
        import moderngl  # noqa: F401
    except ImportError:
        return False
    return True


def test_bench_tiny_preset_reports_every_field(capsys):
    upload = ["--upload"] if _has_moderngl() else []
    code, out, _ = run_bench(["sg2-tiny", "--device", "cpu", "--precision", "bf16",
                              "--frames", "4", "--warmup", "1", *upload], capsys)
    assert code == 0
    assert "device=cpu precision=bf16 graph=off" in out
    assert ("upload=host" in out) == bool(upload)
    low = number(r"min ([\d.]+)", out)
    median = number(r"median ([\d.]+)", out)
    p90 = number(r"p90 ([\d.]+)", out)
    assert 0 < low <= median <= p90
    assert number(r"fps: ([\d.]+)", out) == pytest.approx(1e3 / median, rel=0.01, abs=0.06)
    rel = number(r"rel err vs fp32: ([\d.e+-]+)", out)
    assert 0 < rel < 0.1
    assert "frames: 4 timed after 1 warm-up" in out


def test_bench_sg3_preset_fp32_is_the_reference(capsys, tmp_path):
    target = tmp_path / "result.json"
    code, out, _ = run_bench(["sg3t-tiny", "--device", "cpu", "--frames", "2", "--warmup", "0",
                              "--res", "16", "--json", str(target)], capsys)
    assert code == 0
    assert "precision=fp32" in out and "(16x16, num_ws 16)" in out
    assert "plain float32 path" in out
    result = json.loads(target.read_text())
    assert result["model"] == "sg3t-tiny" and result["frames"] == 2
    assert result["median_ms"] > 0 and result["rel_err"] is None


def test_bench_on_a_fixture_model_file(capsys):
    path = FIXTURES / "sg2-cond.safetensors"
    code, out, err = run_bench([str(path), "--device", "cpu", "--precision", "bf16",
                                "--frames", "2", "--warmup", "1"], capsys)
    assert code == 0, err
    assert "sg2-cond.safetensors (16x16" in out
    assert number(r"rel err vs fp32: ([\d.e+-]+)", out) < 0.1


@pytest.mark.parametrize("argv, message", [
    (["no-such-model"], "no such model file and not a preset"),
    (["sg2-tiny", "--device", "cpu", "--precision", "official"], "needs a CUDA device"),
    (["sg2-tiny", "--device", "cpu", "--res", "24"], "power of two"),
    (["sg2-tiny", "--frames", "0"], "--frames must be"),
    ([str(FIXTURES / "sg2-tiny.json"), "--device", "cpu"], "not a model file"),
])
def test_bench_errors_are_one_line_and_exit_1(capsys, argv, message):
    code, out, err = run_bench(argv, capsys)
    assert code == 1
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-CUDA message")
def test_bench_cuda_on_a_cpu_machine_says_so(capsys):
    code, _, err = run_bench(["sg2-tiny", "--device", "cuda"], capsys)
    assert code == 1 and "no CUDA" in err


def test_bench_runs_as_a_module_in_a_fresh_process():
    proc = subprocess.run([sys.executable, "-m", "liveGAN.commands.bench", "sg2-tiny",
                           "--device", "cpu", "--frames", "2", "--warmup", "0", "--check", "0"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "ms/frame: min" in proc.stdout and "fps:" in proc.stdout


def test_official_configs():
    arch, sg2 = preset_config("sg2-1024")
    assert arch == "stylegan2" and sg2["mapping_kwargs"]["num_layers"] == 8
    assert (sg2["channel_base"], sg2["channel_max"], sg2["num_fp16_res"], sg2["conv_clamp"]) == (
        32768, 512, 4, 256)
    _, t = preset_config("sg3t-1024")
    _, r = preset_config("sg3r-1024")
    assert (t["channel_base"], t["channel_max"]) == (32768, 512)
    assert (r["channel_base"], r["channel_max"], r["conv_kernel"], r["use_radial_filters"]) == (
        65536, 1024, 1, True)
    assert t["mapping_kwargs"]["num_layers"] == 2 and 0.99 < t["magnitude_ema_beta"] < 1
    assert preset_config("sg2-1024", res=256)[1]["img_resolution"] == 256
    assert {"sg2-256", "sg2-512", "sg2-1024", "sg3t-512", "sg3t-1024", "sg3r-1024"} <= set(PRESETS)


@pytest.mark.parametrize("name", ["sg2-tiny", "sg3t-tiny", "sg3r-tiny"])
def test_random_presets_give_finite_varied_images_and_sane_buffers(name):
    G = build_preset(name, seed=3, res=16)
    with torch.no_grad():
        ws = G.mapping(torch.randn(2, G.z_dim), None)
        img = G.synthesis(ws, force_fp32=True)
    assert torch.isfinite(img).all()
    assert img.std() > 1e-3 and (img[0] - img[1]).abs().max() > 1e-3
    assert G.mapping.w_avg.abs().sum() > 0
    emas = [m.magnitude_ema for m in G.synthesis.modules() if "magnitude_ema" in m._buffers]
    for ema in emas:
        assert torch.isfinite(ema) and 0 < float(ema) < 1e6
    if name.startswith("sg3"):
        assert emas and len({round(float(e), 6) for e in emas}) > 1  # calibrated, not all 1
    again = build_preset(name, seed=3, res=16)
    assert all(torch.equal(a, b) for a, b in zip(G.state_dict().values(),
                                                  again.state_dict().values()))
