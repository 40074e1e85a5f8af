"""`livegan train` end to end in real processes: outputs, SIGKILL + resume, SIGTERM, DDP (gloo).

Tiny everything (16x16 images, 16-channel networks, a few steps) so the file runs in well under
a minute on two shared cores.
"""
from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import numpy as np
import pytest
import torch

from liveGAN.train import procedural
from liveGAN.files import write_png

TINY = ["--res", "16", "--batch", "4", "--channel-base", "64", "--channel-max", "16",
        "--swd-images", "8", "--threads", "1", "--no-progress"]


def _env():
    env = dict(os.environ, OMP_NUM_THREADS="1", PYGAME_HIDE_SUPPORT_PROMPT="1",
               SDL_VIDEODRIVER="offscreen", SDL_AUDIODRIVER="dummy")
    env.pop("RANK", None)
    env.pop("WORLD_SIZE", None)
    return env


def _cmd(*args):
    return [sys.executable, "-m", "liveGAN.cli", "train", *map(str, args)]


def _train(*args, timeout=120):
    return subprocess.run(_cmd(*args), env=_env(), capture_output=True, text=True,
                          timeout=timeout)


def _checkpoint_nimg(run: Path) -> list[int]:
    return sorted(int(p.stem.split("-")[1]) for p in (run / "checkpoints").glob("ckpt-*.pt"))


def _wait_for_checkpoint(proc, run: Path, timeout=60) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = _checkpoint_nimg(run)
        if found:
            return found[-1]
        if proc.poll() is not None:
            raise AssertionError(f"training exited early: {proc.stderr.read()}")
        time.sleep(0.1)
    proc.kill()
    raise AssertionError("no checkpoint appeared")


def _run_on_cpu(proc, seconds: float, timeout=60) -> None:
    """Wait until `proc` has used `seconds` more CPU time (its own work, however busy the
    machine is), so a signal sent next lands some training steps later."""
    def cpu():
        fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    start, deadline = cpu(), time.monotonic() + timeout
    while cpu() - start < seconds and time.monotonic() < deadline:
        time.sleep(0.05)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data")
    for i in range(12):
        write_png(folder / f"img{i:02d}.png",
                  procedural.make_image(16, procedural.image_rng(0, i)))
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    return folder


@pytest.fixture(scope="module")
def finished_run(data_dir, tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "run"
    result = _train(data_dir, "--out", run, "--kimg", "0.048", "--tick", "0.016", *TINY)
    assert result.returncode == 0, result.stderr
    return run, result


def test_end_to_end_outputs(finished_run):
    from liveGAN.models import load_generator
    from liveGAN.train.checkpoint import load_checkpoint

    run, result = finished_run
    assert "broken.png" in result.stderr and "skipped 1 unreadable" in result.stderr
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["kimg"] for r in rows] == [0.016, 0.032, 0.048]
    for key in ("loss_G", "loss_D", "aug_p", "swd", "swd_16", "img_per_s", "coverage",
                "density", "diversity", "variety"):
        assert all(key in r for r in rows), key
    assert all(np.isfinite(r["loss_G"]) and np.isfinite(r["swd"]) for r in rows)
    assert all(0 <= r["coverage"] <= 1 and r["diversity"] > 0 for r in rows)
    samples = sorted(p.name for p in (run / "samples").glob("*.png"))
    assert "reals.png" in samples and "latest.png" in samples
    assert {"fakes000000.016.png", "fakes000000.048.png"} <= set(samples)
    for png in [run / "curves.png", run / "samples" / "latest.png"]:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # The model plays: native format, varied images for different seeds.
    G = load_generator(run / "model.safetensors")
    assert G.architecture == "light" and G.img_resolution == 16
    with torch.no_grad():
        img = G(torch.randn(4, G.z_dim), None)
    assert img.shape == (4, 3, 16, 16) and torch.isfinite(img).all()
    assert (img[0] - img[1]).abs().mean() > 1e-3
    # Checkpoints load with the restricted unpickler and know where they were.
    ckpt = load_checkpoint(sorted((run / "checkpoints").glob("*.pt"))[-1])
    assert ckpt["cur_nimg"] == 48 and ckpt["augment"]["kind"] == "ada"
    # The patch points at the model and passes liveGAN's patch validation.
    patch_text = (run / "patch.toml").read_text()
    assert tomllib.loads(patch_text)["model"]["path"] == "model.safetensors"
    from liveGAN.patch import load_patch

    patch = load_patch(run / "patch.toml")
    assert patch.model.path == (run / "model.safetensors").resolve()


def test_sigkill_then_resume_continues_from_the_checkpoint(data_dir, tmp_path):
    run = tmp_path / "run"
    proc = subprocess.Popen(_cmd(data_dir, "--out", run, "--kimg", "50", "--tick", "0.008",
                                 "--swd-every", "0", *TINY),
                            env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    _wait_for_checkpoint(proc, run)
    time.sleep(0.3)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    saved = _checkpoint_nimg(run)[-1]
    assert saved >= 8
    # The worst moment for a kill: the checkpoint is on disk but its metrics line is not.
    metrics = run / "metrics.jsonl"
    lines = [l for l in metrics.read_text().splitlines()
             if json.loads(l)["kimg"] * 1000 < saved - 0.5]
    metrics.write_text("".join(l + "\n" for l in lines))
    target = saved / 1000 + 0.008
    result = _train("--resume", "--out", run, "--kimg", f"{target:.3f}", "--tick", "0.008",
                    "--no-progress", "--threads", "1")
    assert result.returncode == 0, result.stderr
    assert f"resuming from ckpt-{saved:012d}.pt at kimg {saved / 1000:.3f}" in result.stderr
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    kimgs = [r["kimg"] for r in rows]
    assert kimgs == sorted(kimgs) and len(set(kimgs)) == len(kimgs)
    assert kimgs[-1] == pytest.approx(saved / 1000 + 0.008)
    assert _checkpoint_nimg(run)[-1] == saved + 8      # carried on, not restarted from 0
    ticks = [r["tick"] for r in rows]
    assert ticks == list(range(1, len(ticks) + 1))


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_writes_a_checkpoint_and_exits_zero(signum, data_dir, tmp_path):
    run = tmp_path / "run"
    proc = subprocess.Popen(_cmd(data_dir, "--out", run, "--kimg", "50", "--tick", "0.008",
                                 "--swd-every", "0", *TINY),
                            env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    first = _wait_for_checkpoint(proc, run)
    time.sleep(0.5)   # a few more steps, so the stop lands between ticks
    proc.send_signal(signum)
    stderr = proc.communicate(timeout=60)[1]
    assert proc.returncode == 0, stderr
    assert "stopped at kimg" in stderr
    last = _checkpoint_nimg(run)[-1]
    assert last >= first
    assert (run / "model.safetensors").is_file()


def test_stop_between_ticks_then_resume_continues_counters_and_rows(data_dir, tmp_path):
    """A stop between ticks, then --resume: no metrics row twice, and the batch counter (which
    times lazy R1 and ADA's updates) carries on from where it was."""
    from liveGAN.train.checkpoint import load_checkpoint

    run = tmp_path / "run"
    proc = subprocess.Popen(_cmd(data_dir, "--out", run, "--kimg", "50", "--tick", "0.4",
                                 "--swd-every", "0", *TINY),
                            env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    first = _wait_for_checkpoint(proc, run)
    # The tick's outputs end with its metrics row and the curves (matplotlib's first import can
    # take a CPU second by itself); a signal before the next step stops on the tick.
    from liveGAN.train.plots import curves_available

    last_output = run / ("curves.png" if curves_available() else "metrics.jsonl")
    deadline = time.monotonic() + 60
    while not last_output.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    _run_on_cpu(proc, 1.0)                      # into the next tick's steps
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0
    stopped = _checkpoint_nimg(run)[-1]
    assert first == 400 and stopped > first
    if stopped % 400 == 0:
        pytest.skip("the stop landed on a tick; nothing between ticks to check")
    target = stopped + 800                      # two more ticks after the resume
    result = _train("--resume", "--out", run, "--kimg", f"{target / 1000:.3f}", "--tick",
                    "0.4", "--no-progress", "--threads", "1")
    assert result.returncode == 0, result.stderr
    kimgs = [json.loads(line)["kimg"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert kimgs == [0.4, (stopped + 400) / 1000, target / 1000], kimgs
    ckpt = load_checkpoint(run / "checkpoints" / f"ckpt-{target:012d}.pt")
    batches = target // 4                       # batch 4: the batches actually run, both sessions
    assert ckpt["batch_idx"] == batches
    # R1 ran on every 16th batch (0, 16, 32, ...) and ADA adjusted p after every 4th: counted
    # by the loop itself, so a counter that restarted at the resume would show here.
    assert ckpt["counters"]["r1_steps"] == len(range(0, batches, 16))
    assert ckpt["counters"]["ada_updates"] == batches // 4


def test_judge_reports_class_coverage(data_dir, tmp_path):
    from liveGAN.train.judge import SmallClassifier, save_judge

    torch.manual_seed(0)
    save_judge(tmp_path / "judge.safetensors", SmallClassifier(4, res=16, width=8))
    result = _train(data_dir, "--out", tmp_path / "run", "--kimg", "0.008", "--tick", "0.008",
                    "--judge", tmp_path / "judge.safetensors", *TINY[:-1])
    assert result.returncode == 0, result.stderr
    row = json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[-1])
    assert row["num_classes"] == 4 and 0 <= row["classes"] <= 4
    assert 0 <= row["confident"] <= 1 and 0 <= row["top_class"] <= 1
    assert "cov " in result.stderr and "classes " in result.stderr   # in the progress line
    bad = _train(data_dir, "--out", tmp_path / "bad", "--judge", data_dir / "img00.png", *TINY)
    assert bad.returncode == 1 and "--judge: " in bad.stderr and "img00.png" in bad.stderr


def test_from_model_fine_tunes(finished_run, data_dir, tmp_path):
    from liveGAN.models import load_generator

    source, _ = finished_run
    result = _train(data_dir, "--out", tmp_path / "ft", "--from", source / "model.safetensors",
                    "--kimg", "0.008", "--tick", "0.008", "--swd-every", "0", *TINY,
                    "--res", "32")
    assert result.returncode == 0, result.stderr
    assert "training at the model's resolution 16" in result.stderr
    G = load_generator(tmp_path / "ft" / "model.safetensors")
    assert G.architecture == "light" and G.init_kwargs == load_generator(
        source / "model.safetensors").init_kwargs


def test_stylegan2_architecture_trains(data_dir, tmp_path):
    from liveGAN.models import load_generator

    result = _train(data_dir, "--out", tmp_path / "sg2", "--arch", "stylegan2", "--kimg",
                    "0.008", "--tick", "0.008", "--swd-every", "0", "--aug", "diffaugment",
                    *TINY)
    assert result.returncode == 0, result.stderr
    G = load_generator(tmp_path / "sg2" / "model.safetensors")
    assert G.architecture == "stylegan2" and G.img_resolution == 16


# Runs `livegan train` under torchrun as the CLI does, and afterwards saves the trained
# networks' parameters of this rank, so the test compares the ranks' weights itself.
RANK_WEIGHTS = """
import os, sys
import torch
from liveGAN.train import loop

trained = []
wrap = loop._data_parallel

def remember(module, net, world, device):
    trained.append(net)
    return wrap(module, net, world, device)

loop._data_parallel = remember
from liveGAN.cli import main

code = main(sys.argv[2:])
torch.save([{k: v.detach().clone() for k, v in net.named_parameters()} for net in trained],
           os.path.join(sys.argv[1], f"rank{os.environ['RANK']}.pt"))
sys.exit(code)
"""


def test_ddp_two_processes_with_gloo(data_dir, tmp_path):
    run = tmp_path / "ddp"
    script = tmp_path / "rank_weights.py"
    script.write_text(RANK_WEIGHTS)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
           "--master_port", str(29500 + os.getpid() % 1000), str(script), str(tmp_path),
           "train", str(data_dir), "--out", str(run), "--kimg", "0.016", "--tick", "0.008",
           "--swd-every", "0", "--device", "cpu", *TINY]
    result = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "(2 process(es), DistributedDataParallel)" in result.stderr
    # Each rank draws different images, so only synchronised gradients keep the weights equal.
    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in (0, 1)]
    assert len(ranks[0]) == 2                              # G and D, as trained
    from liveGAN.models import load_generator

    exported = load_generator(run / "model.safetensors").state_dict()
    for net0, net1 in zip(*ranks):
        assert net0.keys() == net1.keys() and len(net0) > 5
        for name in net0:
            assert torch.equal(net0[name], net1[name]), name
    # ... and they trained: G moved away from the EMA copy that rank 0 exported.
    assert any(not torch.equal(t, exported[k]) for k, t in ranks[0][0].items() if k in exported)
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["kimg"] for r in rows] == [0.008, 0.016]   # one writer: no duplicated lines
    assert (run / "model.safetensors").is_file()


def test_clear_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    result = _train(tmp_path / "empty", "--out", tmp_path / "r", *TINY)
    assert result.returncode == 1
    assert result.stderr.strip().startswith("error:") and "no images found" in result.stderr
    assert "Traceback" not in result.stderr
    result = _train("--resume", "--out", tmp_path / "nothing", "--no-progress")
    assert result.returncode == 1 and "no readable checkpoint" in result.stderr


@pytest.mark.parametrize("device", [
    "cpu",
    pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(),
                                                  reason="needs CUDA (no GPU here)"))])
def test_bf16_mixed_precision_run(device, data_dir, tmp_path):
    """The autocast path (bf16 G/D passes, fp32 R1) trains and resumes with finite losses."""
    run = tmp_path / device
    result = _train(data_dir, "--out", run, "--device", device, "--precision", "bf16",
                    "--kimg", "0.016", "--tick", "0.008", *TINY)
    assert result.returncode == 0, result.stderr
    assert "(bf16 autocast)" in result.stderr
    result = _train("--resume", "--out", run, "--kimg", "0.024", "--tick", "0.008",
                    "--no-progress")
    assert result.returncode == 0, result.stderr
    assert "(bf16 autocast)" in result.stderr   # --resume keeps the run's precision
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["kimg"] for r in rows] == [0.008, 0.016, 0.024]
    assert "r1" in rows[0]   # R1 ran (step 0), in fp32 inside the bf16 run
    assert all(np.isfinite(r["loss_G"]) and np.isfinite(r["loss_D"]) for r in rows)


def test_livegan_run_plays_the_run_patch(finished_run):
    run, _ = finished_run
    result = subprocess.run([sys.executable, "-m", "liveGAN.cli", "run", str(run / "patch.toml"),
                             "--headless", "--frames", "3", "--no-osc", "--size", "64x64"],
                            env=_env(), capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "generator failed" not in result.stderr
    assert "frames shown 3" in result.stdout + result.stderr


def test_grey_images_train_a_one_channel_generator(tmp_path):
    from liveGAN.models import load_generator

    folder = tmp_path / "grey"
    folder.mkdir()
    for i in range(8):
        rgb = procedural.make_image(16, procedural.image_rng(0, i))
        write_png(folder / f"g{i}.png", rgb.mean(axis=-1).astype(np.uint8))
    result = _train(folder, "--out", tmp_path / "run", "--kimg", "0.008", "--tick", "0.008",
                    *TINY)
    assert result.returncode == 0, result.stderr
    assert "grey images: training a one-channel generator" in result.stderr
    G = load_generator(tmp_path / "run" / "model.safetensors")
    assert G.img_channels == 1
    with torch.no_grad():
        assert G(torch.randn(2, G.z_dim), None).shape == (2, 1, 16, 16)
    row = json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[-1])
    assert np.isfinite(row["swd"]) and 0 <= row["coverage"] <= 1


def test_ema_options_set_the_saved_average(data_dir, tmp_path):
    """--ema-kimg 0 saves the latest G itself; the default saves an average that lags it."""
    import torch

    from liveGAN.train.checkpoint import load_checkpoint

    gaps = {}
    for name, extra in [("latest", ["--ema-kimg", "0"]), ("average", ["--ema-rampup", "0"])]:
        run = tmp_path / name
        result = _train(data_dir, "--out", run, "--kimg", "0.016", "--tick", "0.016",
                        "--swd-every", "0", *TINY, *extra)
        assert result.returncode == 0, result.stderr
        state = load_checkpoint(sorted((run / "checkpoints").glob("ckpt-*.pt"))[-1])
        assert json.loads((run / "config.json").read_text())["ema_kimg"] == (
            0 if name == "latest" else None)
        gaps[name] = max(float((state["G"][k].float() - state["G_ema"][k].float()).abs().max())
                         for k in state["G"] if state["G"][k].is_floating_point())
    assert gaps["latest"] == 0 and gaps["average"] > 1e-4, gaps


def test_default_batch_follows_the_device_and_the_processes():
    from liveGAN.train.loop import default_batch

    assert default_batch(torch.device("cpu")) == 2
    assert default_batch(torch.device("cuda:0")) == 16      # a device name; no GPU needed
    assert default_batch(torch.device("cpu"), world=3) == 6    # a pair for each process
    assert default_batch(torch.device("cuda:1"), world=4) == 16


def test_batch_defaults_on_a_fresh_run_and_resume_keeps_the_runs_own(data_dir, tmp_path,
                                                                     monkeypatch):
    """No --batch: 2 on this CPU, written to config.json. --resume keeps the checkpoint's batch
    for drawing images, not the command line's default (which once drew 16 real images per
    step into a batch-4 run while counting 4)."""
    from liveGAN.train import loop

    drawn = []

    class CountingSampler(loop.BatchSampler):
        def __init__(self, images, batch, *args, **kwargs):
            drawn.append(batch)
            super().__init__(images, batch, *args, **kwargs)

    monkeypatch.setattr(loop, "BatchSampler", CountingSampler)
    small = dict(res=16, channel_base=64, channel_max=16, swd_every=0, grid=4, threads=1,
                 progress=False, device="cpu", tick=0.008)
    fresh = tmp_path / "fresh"
    assert loop.train(loop.TrainConfig(data=str(data_dir), out=str(fresh), kimg=0.008, **small),
                      log=lambda m: None) == 0
    assert drawn == [2]
    assert json.loads((fresh / "config.json").read_text())["batch"] == 2

    run = tmp_path / "run"
    assert loop.train(loop.TrainConfig(data=str(data_dir), out=str(run), kimg=0.008, batch=4,
                                       **small), log=lambda m: None) == 0
    assert loop.train(loop.TrainConfig(data="", out=str(run), kimg=0.016, resume=True,
                                       **small), log=lambda m: None) == 0
    assert drawn == [2, 4, 4]
    from liveGAN.train.checkpoint import load_checkpoint

    ckpt = load_checkpoint(run / "checkpoints" / f"ckpt-{16:012d}.pt")
    assert ckpt["batch_idx"] == 16 // 4


def test_resume_keeps_the_runs_length_and_ticks_unless_given(data_dir, tmp_path):
    """--resume without --kimg or --tick continues the run as it was planned: its own length
    and tick (the command line's defaults, 100 kimg and 4, once replaced them silently)."""
    from liveGAN.train import loop

    small = dict(res=16, channel_base=64, channel_max=16, grid=4, threads=1, progress=False,
                 device="cpu", batch=4)
    run = tmp_path / "run"
    assert loop.train(loop.TrainConfig(data=str(data_dir), out=str(run), kimg=0.008, tick=0.004,
                                       swd_every=0, **small), log=lambda m: None) == 0

    def rows():
        lines = (run / "metrics.jsonl").read_text().splitlines()
        return [round(json.loads(line)["kimg"], 3) for line in lines]

    # A longer run, no --tick: its ticks stay 0.004 kimg apart.
    assert loop.train(loop.TrainConfig(data="", out=str(run), resume=True, kimg=0.016, **small),
                      log=lambda m: None) == 0
    assert rows() == [0.004, 0.008, 0.012, 0.016]
    assert json.loads((run / "config.json").read_text())["tick"] == 0.004
    # Nothing given: the run is as long as it now plans; nothing more is trained.
    assert loop.train(loop.TrainConfig(data="", out=str(run), resume=True, **small),
                      log=lambda m: None) == 0
    assert rows() == [0.004, 0.008, 0.012, 0.016]
    # Given, they change.
    assert loop.train(loop.TrainConfig(data="", out=str(run), resume=True, kimg=0.024,
                                       tick=0.008, **small), log=lambda m: None) == 0
    assert rows() == [0.004, 0.008, 0.012, 0.016, 0.024]


def test_blur_of_ds_input_reaches_training_and_is_recorded(data_dir, tmp_path):
    """--blur-sigma changes what D sees: the same seed trains the same G twice without it and
    another G with it; the run says so and keeps it in its config."""
    models = {}
    for name, extra in [("plain", []), ("again", []), ("blurred", ["--blur-sigma", "2"])]:
        run = tmp_path / name
        result = _train(data_dir, "--out", run, "--kimg", "0.016", "--tick", "0.016",
                        "--swd-every", "0", *TINY, *extra)
        assert result.returncode == 0, result.stderr
        models[name] = hashlib.sha256((run / "model.safetensors").read_bytes()).hexdigest()
        config = json.loads((run / "config.json").read_text())
        assert config["blur_sigma"] == (2.0 if extra else 0.0)
        said = "D's input blurred 2 px fading out by kimg 0.00533333" in result.stderr
        assert said == bool(extra), result.stderr
    assert models["plain"] == models["again"]
    assert models["plain"] != models["blurred"]


def test_d_recon_trains_the_decoder_with_d_and_old_runs_resume_without_it(data_dir, tmp_path):
    """--d-recon W: the run says so, keeps W in its config, reports the redrawing's error every
    tick, its checkpoints hold the decoder, and it resumes. A checkpoint from before the option
    (no d_recon in its config) resumes without a decoder."""
    from liveGAN.train.checkpoint import load_checkpoint

    run = tmp_path / "recon"
    result = _train(data_dir, "--out", run, "--kimg", "0.032", "--tick", "0.016",
                    "--swd-every", "0", "--d-recon", "2", *TINY)
    assert result.returncode == 0, result.stderr
    assert "D redraws its reals (weight 2)" in result.stderr
    assert json.loads((run / "config.json").read_text())["d_recon"] == 2.0
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert len(rows) == 2 and all(np.isfinite(r["recon"]) and r["recon"] > 0 for r in rows)
    ckpt = load_checkpoint(sorted((run / "checkpoints").glob("*.pt"))[-1])
    assert any(k.startswith("decoder.") for k in ckpt["D"])
    result = _train("--out", run, "--resume", "--kimg", "0.048", "--no-progress", "--threads",
                    "1")
    assert result.returncode == 0, result.stderr
    assert "D redraws its reals (weight 2)" in result.stderr

    old = tmp_path / "old"
    result = _train(data_dir, "--out", old, "--kimg", "0.016", "--tick", "0.016",
                    "--swd-every", "0", *TINY)
    assert result.returncode == 0, result.stderr
    path = sorted((old / "checkpoints").glob("*.pt"))[-1]
    state = load_checkpoint(path)
    assert not any(k.startswith("decoder.") for k in state["D"])
    del state["config"]["d_recon"]
    torch.save(state, path)
    result = _train("--out", old, "--resume", "--kimg", "0.032", "--no-progress", "--threads",
                    "1")
    assert result.returncode == 0, result.stderr
    assert "D redraws" not in result.stderr
