"""Training's variety and friction checks: coverage/diversity, the judge, ETA, slow-CPU warning,
ADA speed, defaults in --help."""
from __future__ import annotations

import argparse

import numpy as np
import pytest
import torch

from liveGAN.train import procedural
from liveGAN.train.diversity import Diversity, collapse_warning
from liveGAN.train.judge import (ClassCoverage, JudgeError, load_judge, save_judge,
                                 train_classifier)
from liveGAN.train.loop import default_ada_kimg
from liveGAN.train.progress import Progress, ThroughputWatch


def _images(style: str, count: int, start: int = 0, res: int = 32) -> torch.Tensor:
    x = np.stack([procedural.make_image(res, procedural.image_rng(5, start + i), style)
                  for i in range(count)])
    return torch.from_numpy(x).permute(0, 3, 1, 2).float() / 127.5 - 1


@pytest.fixture(scope="module")
def two_families():
    """Reals drawn from two clearly different families (vivid colour fields, glow on black)."""
    return _images("vivid", 48), _images("classic", 48)


def test_coverage_and_diversity_tell_a_full_a_half_and_a_collapsed_set(two_families):
    vivid, classic = two_families
    metric = Diversity(torch.cat([vivid, classic]))
    # Fresh images of both families: the data's own variety.
    full = metric.measure(torch.cat([_images("vivid", 48, 100), _images("classic", 48, 100)]))
    # Only one family: half the modes dropped.
    half = metric.measure(_images("vivid", 96, 200))
    # One image with a little noise: every latent converged.
    one = _images("vivid", 1, 300)
    collapsed = metric.measure(one + 0.02 * torch.randn(96, *one.shape[1:]))
    assert full["coverage"] > 0.75 and 0.7 < full["diversity"] < 1.3
    assert half["coverage"] < 0.75 and half["coverage"] < full["coverage"] - 0.25
    assert collapsed["coverage"] < 0.1 and collapsed["diversity"] < 0.1
    assert collapse_warning({"kimg": 3.2, **collapsed}).startswith(
        "warning: mode collapse at kimg 3.2")
    assert collapse_warning({"kimg": 3.2, **full}) is None


@pytest.mark.filterwarnings("ignore:.*torch.jit:DeprecationWarning")
def test_judge_counts_confident_classes_and_round_trips(tmp_path):
    # Three classes anyone can tell apart: a red, green or blue square somewhere on black.
    rng = np.random.default_rng(0)
    images, labels = [], []
    for i in range(240):
        img = np.zeros((16, 16, 3), np.uint8)
        y, x = rng.integers(0, 9, 2)
        img[y: y + 7, x: x + 7, i % 3] = 255
        images.append(img)
        labels.append(i % 3)
    model = train_classifier(np.stack(images), np.array(labels), ["red", "green", "blue"], 16,
                             epochs=15, log=lambda m: None)
    assert model.held_out_accuracy > 0.9
    save_judge(tmp_path / "judge.safetensors", model)
    judge = load_judge(tmp_path / "judge.safetensors")
    batch = torch.from_numpy(np.stack(images[:30])).permute(0, 3, 1, 2).float() / 127.5 - 1
    with torch.no_grad():
        assert torch.allclose(judge(batch), model(batch), atol=1e-6)
    both = ClassCoverage(judge).measure(batch)
    assert both["classes"] == 3 and both["confident"] > 0.8 and both["top_class"] < 0.5
    # Images of no class (noise, the pixels of real images shuffled) are no confident sample:
    # trained on the classes alone, a judge was sure of most of them.
    g = torch.Generator().manual_seed(1)
    noise = torch.rand(60, 3, 16, 16, generator=g) * 2 - 1
    shuffled = batch.flatten(2)[:, :, torch.randperm(256, generator=g)].view_as(batch)
    for garbage in (noise, shuffled):
        assert ClassCoverage(judge).measure(garbage)["confident"] < 0.1
    reds = batch[[i for i in range(30) if labels[i] == 0]]
    only_red = ClassCoverage(judge).measure(reds)
    assert only_red["classes"] == 1 and only_red["top_class"] == 1.0
    # A TorchScript classifier of the user's own works the same way.
    torch.jit.save(torch.jit.script(model), str(tmp_path / "judge.pt"))
    scripted = ClassCoverage(load_judge(tmp_path / "judge.pt")).measure(batch)
    assert scripted == both
    (tmp_path / "junk.bin").write_bytes(b"not a model")
    for name, pattern in [("junk.bin", "neither a .safetensors judge nor a TorchScript"),
                          ("missing.pt", "no such classifier file")]:
        with pytest.raises(JudgeError, match=f"{name}: {pattern}"):
            load_judge(tmp_path / name)


def test_eta_goes_past_a_day(tmp_path):
    # 990 kimg left at 10 images/s is 99 000 s: 27.5 hours, not the 3:30:00 a 24-hour clock
    # (time.gmtime) would show.
    with open(tmp_path / "log.txt", "w") as stream:
        progress = Progress(True, 1000, stream=stream)
        line = progress.line(10.0, 10.0, {"loss_G": 1.0, "loss_D": 0.5}, 0.1)
        progress.update(10.0, 10.0, {"loss_G": 1.0, "loss_D": 0.5}, 0.1, force=True)
        progress.close()
    assert "<27:30:00" in line, line
    assert "10.0 img/s" in line and "G 1.000 D 0.500" in line and "aug p 0.100" in line
    assert (tmp_path / "log.txt").read_text().strip() == line   # a log file gets plain lines


class _FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


@pytest.mark.parametrize("load,expect", [(7.5, "the CPU is oversubscribed"),
                                         (0.5, "something else is slowing it")])
def test_throughput_collapse_gives_one_warning_with_advice(load, expect):
    clock = _FakeClock()
    watch = ThroughputWatch(window=10, clock=clock, load=lambda: (load, load, load), cores=2,
                            threads=2)
    nimg, warnings = 0, []

    def run(seconds, rate):
        nonlocal nimg
        for _ in range(int(seconds)):
            clock.now += 1
            nimg += rate
            warnings.append(watch.step(nimg))

    run(60, 20)                                 # steady: 20 images/s
    assert not any(warnings)
    run(60, 1)                                  # the CPU is taken: 1 image/s
    said = [w for w in warnings if w]
    assert len(said) == 1 and "slowed from 20.0 to 1.0 images/s" in said[0]
    assert "load average" in said[0] and "2 cores" in said[0] and expect in said[0]


def test_ada_speed_follows_the_data_and_the_run_length():
    assert default_ada_kimg(30, 1797) == pytest.approx(17.97)   # ten epochs of the data
    assert default_ada_kimg(17, 1797) == 17.0   # ... but within the planned run
    assert default_ada_kimg(30, 64) == 16.0     # never faster than 16 kimg: a tiny set ...
    assert default_ada_kimg(10, 1797) == 16.0   # ... or a short run: a fast p costs spread
    assert default_ada_kimg(25000, 70000) == 100.0


def test_train_help_shows_defaults(capsys):
    from liveGAN.cli import main

    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for needle in ["(default: 128)", "(default: 2 on a CPU, 16 on CUDA)", "(default: ada)",
                   "(default: 0.002)", "(default: 0)", "ten epochs of the data"]:
        assert needle in text, needle


def test_variety_floor_acts_only_on_converging_samples():
    from liveGAN.train.loss import pair_distance, real_pair_distance, variety_penalty

    torch.manual_seed(0)
    reals = torch.rand(64, 1, 8, 8) * 2 - 1
    spread = real_pair_distance(reals)
    # Standardised, each value is about uniform on [-sqrt(3), sqrt(3)]: E|a - b| = 2 sqrt(3) / 3
    # (a little less: the spread is divided by the image's std + 0.05).
    assert spread == pytest.approx(2 * 3 ** 0.5 / 3, rel=0.1)
    floor = 0.9 * spread
    varied = torch.rand(16, 1, 8, 8) * 2 - 1               # as different as the data
    assert variety_penalty(varied, floor) == 0
    one = torch.rand(1, 1, 8, 8) * 2 - 1
    same = (one + 0.01 * torch.randn(16, 1, 8, 8)).requires_grad_(True)
    penalty = variety_penalty(same, floor)
    assert 0.95 < penalty <= 1
    penalty.backward()                                     # a step down the gradient ...
    with torch.no_grad():
        moved = same - 0.5 * same.grad / same.grad.abs().max()
    assert (pair_distance(moved) > pair_distance(same.detach()) + 0.05).all()   # ... separates


def test_grain_from_noise_inputs_is_not_variety():
    """A generator that ignores z but speckles each sample differently (its noise inputs) is
    collapsed: the floor and the diversity figure compare layouts, not grain."""
    from torch.nn import functional as F

    from liveGAN.train.diversity import _pixel_spread
    from liveGAN.train.loss import real_pair_distance, variety_penalty

    torch.manual_seed(1)
    # Real pictures differ in layout: random 8x8 patterns enlarged to 32x32.
    reals = F.interpolate(torch.rand(64, 1, 8, 8) * 2 - 1, size=32, mode="nearest")
    floor = 0.9 * real_pair_distance(reals)
    one = F.interpolate(torch.rand(1, 1, 8, 8) * 2 - 1, size=32, mode="nearest")
    grainy = (one + 0.4 * torch.randn(16, 1, 32, 32)).clamp(-1, 1)
    raw_spread = (reals[:32] - reals[32:]).abs().mean()   # the reals' own, per pixel
    per_pixel = (grainy[:8] - grainy[8:]).abs().mean()
    assert per_pixel > 0.5 * raw_spread            # per pixel they look varied ...
    assert variety_penalty(grainy, floor) > 0.6    # ... but the floor sees one picture
    assert _pixel_spread(grainy) < 0.3 * _pixel_spread(reals)
    # Brighter and dimmer copies of one picture are one picture too.
    toned = one * torch.linspace(0.3, 1.0, 16)[:, None, None, None] \
        + torch.linspace(-0.5, 0.5, 16).flip(0)[:, None, None, None]
    assert (toned[:8] - toned[8:]).abs().mean() > 0.5 * raw_spread
    assert variety_penalty(toned, floor) > 0.9


@pytest.mark.parametrize("option, value, says", [
    ("--kimg", "nan", "--kimg must be a number > 0"),
    ("--variety", "-1", "--variety must be a number >= 0"),
    ("--lr", "inf", "--lr must be a number > 0"),
    ("--ada-target", "1.5", "--ada-target must be a number >= 0 and <= 1"),
    ("--ema-rampup", "nan", "--ema-rampup must be a number >= 0"),
    ("--ema-kimg", "-2", "--ema-kimg must be a number >= 0"),
    ("--batch", "0", "--batch must be between 1 and 4096, got 0"),
    ("--batch", "1000000000", "--batch must be between 1 and 4096, got 1000000000"),
    ("--tick", "-1", "--tick must be a number > 0"),
    ("--swd-every", "-1", "--swd-every must be between 0 and 1000000, got -1"),
    ("--threads", "-3", "--threads must be between 1 and 1024, got -3"),
    ("--swd-images", "0", "--swd-images must be between 2 and 1000000, got 0"),
    ("--swd-images", "1", "--swd-images must be between 2 and 1000000, got 1"),
    ("--blur-sigma", "-1", "--blur-sigma must be a number >= 0 and <= 64"),
    ("--blur-sigma", "nan", "--blur-sigma must be a number >= 0"),
    ("--blur-kimg", "0", "--blur-kimg must be a number > 0"),
    ("--d-recon", "-1", "--d-recon must be a number >= 0 and <= 1000"),
    ("--d-recon", "inf", "--d-recon must be a number >= 0"),
])
def test_train_refuses_numbers_out_of_range_in_one_line(tmp_path, capsys, option, value, says):
    from liveGAN.cli import main

    (tmp_path / "data").mkdir()
    assert main(["train", str(tmp_path / "data"), "--out", str(tmp_path / "run"),
                 option, value]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and says in err[0], err
    assert not (tmp_path / "run").exists()


def test_mbstd_group_option_reaches_the_discriminator(tmp_path, capsys):
    """--mbstd-group N: D measures the spread of features over groups of N images."""
    from liveGAN.cli import main
    from liveGAN.commands.train import add_arguments, config_from_args
    from liveGAN.train.loop import _build_networks

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    cfg = config_from_args(parser.parse_args(["d", "--out", "o", "--res", "16",
                                              "--mbstd-group", "16"]))
    D = _build_networks(cfg, channels=1)[3]
    assert D.mbstd_group_size == 16
    # A batch of 16 is one group: every image gets the same spread feature; the default
    # groups of 4 give four different values.
    feats = torch.randn(16, 4, 4, 4, generator=torch.Generator().manual_seed(0))
    assert len(set(D._minibatch_std(feats)[:, -1, 0, 0].tolist())) == 1
    D.mbstd_group_size = 4
    assert len(set(D._minibatch_std(feats)[:, -1, 0, 0].tolist())) == 4
    (tmp_path / "data").mkdir()
    assert main(["train", str(tmp_path / "data"), "--out", str(tmp_path / "run"),
                 "--mbstd-group", "0"]) == 1
    assert "--mbstd-group must be between 1 and 1024, got 0" in capsys.readouterr().err


def test_the_blur_of_ds_input_is_a_gaussian_of_sigma_that_fades_out():
    """A point comes out as a Gaussian of the given sigma (its spread measured from the
    positions, not the kernel); a flat image stays flat up to its edges (edges repeated, not
    darkened); the blur falls linearly to none at the fade's end."""
    from liveGAN.train.augment import blur_for_d, d_blur_sigma

    point = torch.zeros(1, 1, 41, 41)
    point[0, 0, 20, 20] = 1.0
    for sigma in (1.0, 2.5):
        out = blur_for_d(point, sigma)[0, 0]
        assert float(out.sum()) == pytest.approx(1.0, abs=1e-5)
        pos = torch.arange(41.0) - 20
        var_x = float((out.sum(0) * pos ** 2).sum())
        var_y = float((out.sum(1) * pos ** 2).sum())
        assert var_x == pytest.approx(sigma ** 2, rel=0.03)
        assert var_y == pytest.approx(sigma ** 2, rel=0.03)
    flat = torch.full((2, 3, 8, 8), 0.7)
    assert torch.allclose(blur_for_d(flat, 3.0), flat, atol=1e-6)
    assert torch.equal(blur_for_d(point, 0.0), point)
    assert [d_blur_sigma(2.0, 10.0, k) for k in (0, 5, 10, 20)] == [2.0, 1.0, 0.0, 0.0]
    assert d_blur_sigma(0.0, 10.0, 0) == 0.0


def test_ds_decoder_learns_to_redraw_the_reals_from_its_8x8_features():
    """--d-recon's decoder: trained on the redrawing alone, D's 8x8 features come to hold the
    images, so the redrawing beats the best picture-blind answer (every pixel's mean over the
    set) several times over. Above 32x32 the target is the image averaged in 2x2 blocks."""
    from liveGAN.train.discriminator import Discriminator, recon_target

    torch.manual_seed(0)
    images = _images("classic", 32, res=16).mean(dim=1, keepdim=True)
    blind = float((images - images.mean(dim=0, keepdim=True)).square().mean())
    D = Discriminator(img_resolution=16, img_channels=1, channel_base=256, channel_max=32,
                      recon=True)
    assert D(images[:2]).shape == (2, 1)          # without recon: the logits alone
    opt = torch.optim.Adam(D.parameters(), lr=2e-3)
    for _ in range(300):
        logits, drawn = D(images, recon=True)
        loss = torch.nn.functional.mse_loss(drawn, recon_target(images))
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert logits.shape == (32, 1) and drawn.shape == images.shape
    assert loss.item() < 0.25 * blind, (loss.item(), blind)
    with pytest.raises(ValueError, match="no decoder"):
        Discriminator(img_resolution=16, img_channels=1)(images, recon=True)

    big = torch.randn(2, 3, 64, 64)
    blocks = big.reshape(2, 3, 32, 2, 32, 2).mean(dim=(3, 5))
    assert torch.allclose(recon_target(big), blocks, atol=1e-6)
    D64 = Discriminator(img_resolution=64, img_channels=3, channel_base=512, channel_max=16,
                        recon=True)
    assert D64(big, recon=True)[1].shape == (2, 3, 32, 32)
