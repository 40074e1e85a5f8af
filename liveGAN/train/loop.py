"""The training loop of `livegan train`, top to bottom: data -> networks -> steps -> ticks.

Place in the data flow: image folder -> data cache -> **training loop** (G, D, EMA, augment,
losses) -> RUN/checkpoints, RUN/metrics.jsonl, RUN/samples, RUN/curves.png ->
RUN/model.safetensors + RUN/patch.toml (a playable model and a patch that plays it).

The recipe is StyleGAN2-ADA's: non-saturating logistic loss, lazy R1 on reals every
`r1_interval` D steps, style mixing, an exponential moving average (EMA) of G that is what we
export, DiffAugment or ADA so small data sets do not collapse (ADA's speed follows the data
set's size: `default_ada_kimg`), bf16 autocast on CUDA (or on the CPU with --precision bf16;
R1's double backward always runs in fp32). A grey data set trains one-channel networks: with
three channels the slightest tint in G's output is a cue D never loses, and on sklearn's digits
that alone made D win outright and G collapse to one class within 4 kimg.
Every metrics tick measures SWD, coverage/density/diversity (`diversity.py`, with a warning when
samples of different latents converge) and, with --judge, class coverage (`judge.py`).
With --d-recon, D also redraws each real image from its 8x8 features (a decoder trained with
D, never exported), so it learns the images' shapes rather than a cue alone.
Data parallel across processes when started by torchrun (RANK/WORLD_SIZE/LOCAL_RANK set): each
process draws its own share of the batch; G and D are wrapped in DistributedDataParallel, which
averages their gradients during backward. Each trained network goes through its DDP wrapper
exactly once per backward (the other one is called bare, frozen), the D step's fake half runs
under `no_sync` so its gradients join the real half's (+ R1) in one all-reduce; rank 0 writes
all files.
"""
from __future__ import annotations

import contextlib
import copy
import gc
import json
import os
import signal
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from liveGAN.files import write_text
from liveGAN.train import augment as augment_mod
from liveGAN.train import checkpoint as ckpt
from liveGAN.train.data import BatchSampler, is_grey, prepare, to_tensor
from liveGAN.train.discriminator import Discriminator, discriminator_kwargs, recon_target
from liveGAN.train.loss import (default_gamma, fake_loss, generator_loss, r1_penalty,
                                real_loss, real_pair_distance, variety_penalty)
from liveGAN.train.progress import Progress, ThroughputWatch


@dataclass
class TrainConfig:
    """Everything that defines a run; stored in RUN/config.json and in every checkpoint."""

    data: str
    out: str
    res: int = 128
    arch: str = "light"
    batch: int | None = None            # None: default_batch (2 on a CPU, 16 on CUDA)
    kimg: float | None = None           # None: 100, or on --resume the run's own
    tick: float | None = None           # None: 4, or on --resume the run's own
    aug: str = "ada"
    mirror: bool = False
    gamma: float | None = None          # None: 0.0002 * res² / batch
    resume: bool = False
    from_model: str | None = None
    device: str = "auto"
    # auto (bf16 autocast on CUDA, fp32 elsewhere), fp32 or bf16; None: auto, or on --resume
    # the checkpoint's choice
    precision: str | None = None
    seed: int = 0
    lr: float = 0.002
    ema_kimg: float | None = None       # None: batch * 10 / 32 (StyleGAN2-ADA)
    ema_rampup: float = 0.05
    r1_interval: int = 16
    style_mixing: float = 0.9
    variety: float = 4.0                # weight of the variety floor against mode collapse (0: off)
    d_recon: float = 0.0                # weight of D's redrawing of the reals (0: no decoder)
    ada_target: float = 0.6
    mbstd_group: int = 4                # images whose spread D sees together (minibatch std)
    ada_kimg: float | None = None       # None: from the data and the length (default_ada_kimg)
    blur_sigma: float = 0.0             # D sees both halves blurred by this many pixels at first
    blur_kimg: float | None = None      # ... fading to none by this kimg (None: a third of the run)
    swd_every: int | None = None        # ticks between SWD evaluations (0: never); None: 1,
                                        # or on --resume the run's own
    swd_images: int = 256
    inception: str | None = None
    judge: str | None = None            # a classifier file: class coverage of the samples
    fit: str = "crop"
    channel_base: int | None = None     # None: the architecture's default
    channel_max: int | None = None
    grid: int = 16                      # images in each sample grid
    threads: int | None = None
    progress: bool = True
    extra: dict = field(default_factory=dict)


# The run's length and rhythm when not given: a fresh run takes these, a resumed one its own.
RUN_DEFAULTS = {"kimg": 100.0, "tick": 4.0, "swd_every": 1}

# Generated pairs should differ at least this much, relative to two real images (variety_penalty).
VARIETY_FLOOR = 0.9


class TrainError(Exception):
    """A run that cannot start or continue; the message says why."""


# ADA's p never goes from 0 to 1 in less than this. Early on D wins because G is still bad, not
# because it memorised, and a fast p then costs the samples their spread: on 64 digits at 2
# images per step, p from 0 to 1 in 2 kimg reached 0.4-0.6 by kimg 4-6, and at kimg 12 the
# samples covered 0.03 and 0.06 of new digits against 0.14 and 0.12 with 16 kimg (a third seed
# tied at 0.21; bench/RESULTS.md, "ADA's speed on a tiny set at batch 2").
ADA_FASTEST_KIMG = 16.0


def default_ada_kimg(total_kimg: float, num_images: int) -> float:
    """How many kimg ADA's p needs to go from 0 to 1, from the data set and the run's length.

    StyleGAN2-ADA's fixed 500 kimg (100 here before) suits runs of thousands of kimg; in a
    30 kimg run on a small set it let p reach 0.04 by 5 kimg, after D had begun to memorise.
    D memorises a set after seeing it some ten times, so p may rise from 0 to 1 in ten epochs
    of the data, and within the planned run at the latest; never faster than ADA_FASTEST_KIMG
    nor slower than 100 kimg.
    """
    epochs = 10 * num_images / 1000
    return float(min(max(min(epochs, total_kimg), ADA_FASTEST_KIMG), 100.0))


def _blur_note(sigma: float, fade_kimg: float) -> str:
    return f", D's input blurred {sigma:g} px fading out by kimg {fade_kimg:g}" if sigma > 0 else ""


def default_batch(device: torch.device, world: int = 1) -> int:
    """Images per step when --batch is not given: 2 per process on a CPU, 16 on CUDA (a
    multiple of the processes).

    On a CPU a smaller batch buys many more updates for the same images at a modest cost: on
    sklearn's digits at 32x32 (one thread) batch 2 takes 1.6 times the CPU time of batch 8 for
    four times the updates, 1.17 times at 128x128. At 30 kimg batch 2 drew better samples than
    batch 8 on each of four seeds (a classifier sure of 50-52 % of them where batch 8 reached
    37-42 %, SWD 28-43 against 39-64: bench/RESULTS.md, issue 16). A GPU finishes a small
    batch no faster than a larger one, so there the batch stays 16.
    """
    if device.type == "cuda":
        return -(-16 // world) * world
    # Two per process: the variety floor and D's minibatch std compare images within one
    # process's share, and a share of one image has nothing to compare.
    return 2 * world


@dataclass
class Evaluators:
    """What rank 0 measures at a metrics tick (each None when off)."""

    swd: object = None
    inception: object = None
    diversity: object = None
    judge: object = None

    @property
    def any(self) -> bool:
        return any(e is not None for e in (self.swd, self.inception, self.diversity, self.judge))


# ---- set-up helpers -------------------------------------------------------------------------

def _dist_info() -> tuple[int, int, int]:
    """(rank, world_size, local_rank) from torchrun's environment; (0, 1, 0) otherwise."""
    return (int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)),
            int(os.environ.get("LOCAL_RANK", 0)))


def _pick_device(name: str, local_rank: int) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise TrainError(f"--device {name}: CUDA is not available on this machine")
        if name == "cuda":
            name = f"cuda:{local_rank}"
    return torch.device(name)


def generator_kwargs(cfg: TrainConfig, channels: int = 3) -> dict:
    """Constructor kwargs of a fresh generator for `cfg` (JSON-able; the native file keeps them)."""
    if cfg.arch == "light":
        kw = dict(z_dim=256, c_dim=0, w_dim=256, img_resolution=cfg.res, img_channels=channels,
                  channel_base=2048, channel_max=256, mapping_layers=2)
    elif cfg.arch == "stylegan2":
        kw = dict(z_dim=512, c_dim=0, w_dim=512, img_resolution=cfg.res, img_channels=channels,
                  mapping_kwargs={"num_layers": 8}, channel_base=32768, channel_max=512,
                  num_fp16_res=0)
    else:
        raise TrainError(f"--arch must be light or stylegan2, got {cfg.arch!r}")
    if cfg.channel_base is not None:
        kw["channel_base"] = int(cfg.channel_base)
    if cfg.channel_max is not None:
        kw["channel_max"] = int(cfg.channel_max)
    return kw


def _build_networks(cfg: TrainConfig, saved: tuple[str, dict] | None = None, channels: int = 3):
    """(G, G_kwargs, arch, D): as `saved` (arch, kwargs) says, fine-tuned from `cfg.from_model`,
    or fresh with `channels` image channels. Sets cfg.res/arch to the network's when they come
    from a file."""
    from liveGAN.models import ModelLoadError, load_generator
    from liveGAN.models.networks import build

    if saved is not None:
        arch, g_kwargs = saved[0], dict(saved[1])
        G = build(arch, g_kwargs)
        cfg.res, cfg.arch = int(G.img_resolution), arch
    elif cfg.from_model:
        try:
            source = load_generator(cfg.from_model, device="cpu")
        except ModelLoadError as err:
            raise TrainError(f"--from: {err}") from None
        arch = getattr(source, "architecture", None)
        g_kwargs = getattr(source, "init_kwargs", None)
        if arch not in ("light", "stylegan2") or g_kwargs is None:
            raise TrainError(f"--from {cfg.from_model}: a {arch} model cannot be fine-tuned "
                             f"here (light or stylegan2 only)")
        G = build(arch, g_kwargs)
        G.load_state_dict(source.state_dict())
        cfg.res, cfg.arch = int(source.img_resolution), arch
    else:
        arch, g_kwargs = cfg.arch, generator_kwargs(cfg, channels)
        G = build(arch, g_kwargs)
    D = build_discriminator(cfg, arch, int(G.img_channels), int(G.c_dim))
    return G.train().requires_grad_(False), dict(g_kwargs), arch, D


def build_discriminator(cfg: TrainConfig, arch: str, img_channels: int, c_dim: int):
    """The run's D as `cfg` shapes it (also what a checkpoint's config rebuilds)."""
    d_kwargs = discriminator_kwargs(arch, cfg.res, img_channels, c_dim)
    if cfg.channel_base is not None:
        d_kwargs["channel_base"] = int(cfg.channel_base)
    if cfg.channel_max is not None:
        d_kwargs["channel_max"] = int(cfg.channel_max)
    d_kwargs["mbstd_group_size"] = int(cfg.mbstd_group)
    d_kwargs["recon"] = cfg.d_recon > 0
    return Discriminator(**d_kwargs)


class _GeneratorPass(torch.nn.Module):
    """G's whole training forward (mapping, style mixing, synthesis) as one module call.

    DDP prepares its gradient reduction in the wrapper's forward, so the G step must be a single
    call through the wrapper even though it runs the mapping network twice.
    """

    def __init__(self, G: torch.nn.Module, style_mixing: float):
        super().__init__()
        self.G = G
        self.style_mixing = style_mixing

    def forward(self, z: torch.Tensor, update_emas: bool = False) -> torch.Tensor:
        G = self.G
        ws = G.mapping(z, None, update_emas=update_emas)
        # Style mixing: part of the batch takes its fine layers from a second latent, so
        # neighbouring layers do not rely on each other (better for live layer-wise control).
        if self.style_mixing > 0:
            cutoff = int(torch.randint(1, ws.shape[1], ()))
            mix = (torch.rand(ws.shape[0], 1, 1, device=ws.device) < self.style_mixing)
            ws2 = G.mapping(torch.randn_like(z), None, update_emas=False)
            rows = torch.arange(ws.shape[1], device=ws.device)[None, :, None] >= cutoff
            ws = torch.where(mix & rows, ws2, ws)
        return G.synthesis(ws, noise_mode="random")


def _data_parallel(module: torch.nn.Module, trained: torch.nn.Module, world: int,
                   device: torch.device) -> torch.nn.Module:
    """`module` wrapped in DistributedDataParallel when there are several processes.

    DDP registers its hooks on parameters that require grad when it is built, so `trained` is
    unfrozen for the construction and frozen again (the loop unfreezes it per phase). Buffers
    are not broadcast: G's w_avg tracks each rank's own latents, and only rank 0's is exported.
    """
    if world <= 1:
        return module
    trained.requires_grad_(True)
    wrapped = torch.nn.parallel.DistributedDataParallel(
        module, device_ids=[device.index] if device.type == "cuda" else None,
        forward_sync_buffers=False)
    trained.requires_grad_(False)
    return wrapped


def _sanitise_grads(module: torch.nn.Module) -> None:
    # One bad batch (inf/nan from an fp16 overflow) must not poison the weights for good.
    for p in module.parameters():
        if p.grad is not None:
            torch.nan_to_num_(p.grad, nan=0.0, posinf=1e5, neginf=-1e5)


def write_patch(run_dir: Path) -> Path:
    """RUN/patch.toml: plays RUN/model.safetensors with a gentle noise walk and a colour grade."""
    text = ("# Made by `livegan train`: plays this run's model. Edit freely.\n"
            "[model]\n"
            'path = "model.safetensors"   # relative to this file\n\n'
            "[latent]\n"
            'walk = "noise"\n'
            "speed = 0.3\n\n"
            "[[shaders]]\n"
            'effect = "grade"\n')
    return write_text(run_dir / "patch.toml", text)


# ---- the run ----------------------------------------------------------------------------------

def train(cfg: TrainConfig, log=None) -> int:
    """Run (or resume) training as configured; returns a process exit code (0: done/stopped)."""
    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    rank, world, local_rank = _dist_info()
    out = Path(cfg.out)
    if cfg.threads:
        torch.set_num_threads(int(cfg.threads))

    # -- processes and device ------------------------------------------------------------
    device = _pick_device(cfg.device, local_rank)
    if world > 1:
        import torch.distributed as dist

        if not dist.is_initialized():
            dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    if device.type == "cuda":
        torch.cuda.set_device(device)
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True

    # -- resume: the checkpoint's config wins over the command line (same run, same recipe) ----
    resume_state = None
    if cfg.resume:
        found = ckpt.load_latest(out)
        if found is None:
            raise TrainError(f"--resume: no readable checkpoint in {out / 'checkpoints'}")
        path, resume_state = found
        saved = dict(resume_state["config"])
        # Runs from before D could redraw its reals have no decoder in their checkpoints.
        saved.setdefault("d_recon", 0.0)
        # This session's own settings come from the command line; the length, the rhythm and
        # the precision only when given (None: the run's own).
        for key in ("device", "progress", "threads", "judge"):
            saved[key] = getattr(cfg, key)
        for key in (*RUN_DEFAULTS, "precision"):
            if getattr(cfg, key) is not None:
                saved[key] = getattr(cfg, key)
        saved["resume"] = True
        cfg = TrainConfig(**saved)
        if rank == 0:
            log(f"resuming from {path.name} at kimg {resume_state['cur_nimg'] / 1000:.3f}")
    for key, value in RUN_DEFAULTS.items():
        if getattr(cfg, key) is None:       # a fresh run that did not give it
            setattr(cfg, key, value)
    # The batch after --resume: the run's own, never the command line's (nor its default).
    if cfg.batch is None:
        cfg.batch = default_batch(device, world)
    if cfg.batch % world:
        raise TrainError(f"--batch {cfg.batch} must be divisible by the {world} processes")
    batch_gpu = cfg.batch // world
    out.mkdir(parents=True, exist_ok=True)
    if cfg.precision not in (None, "auto", "fp32", "bf16"):
        raise TrainError(f"--precision {cfg.precision!r}: expected auto, fp32 or bf16")
    use_amp = cfg.precision == "bf16" or (cfg.precision in (None, "auto")
                                          and device.type == "cuda")

    requested_res = cfg.res
    # -- data first for a fresh run: a grey data set gets one-channel networks ------------------
    data, channels = None, 3
    if resume_state is None and not cfg.from_model:
        data = _load_data(cfg, out, rank, world, log)
        if is_grey(data.images):
            channels = 1
            if rank == 0:
                log("data: grey images: training a one-channel generator")

    # -- networks (same seed on every rank so they start identical) -----------------------------
    torch.manual_seed(cfg.seed)
    # A resumed run rebuilds exactly the networks in its checkpoint (the --from file may be gone).
    G, g_kwargs, arch, D = _build_networks(
        cfg, None if resume_state is None else (resume_state["arch"], resume_state["G_kwargs"]),
        channels)
    if rank == 0 and cfg.from_model and resume_state is None and G.img_resolution != requested_res:
        log(f"--from: training at the model's resolution {G.img_resolution}, "
            f"not --res {requested_res}")
    G_ema = copy.deepcopy(G).eval()
    G.to(device)
    D.to(device).train().requires_grad_(False)
    G_ema.to(device)
    torch.manual_seed(cfg.seed * 1000 + rank + 1)

    # -- data (for --resume and --from: at the network's resolution) -----------------------------
    if data is None:
        data = _load_data(cfg, out, rank, world, log)
    sampler = BatchSampler(data.images, batch_gpu, cfg.mirror, cfg.seed * 1000 + rank, device,
                           channels=int(G.img_channels))
    ada_kimg = (cfg.ada_kimg if cfg.ada_kimg is not None
                else default_ada_kimg(cfg.kimg, len(data.images) * (2 if cfg.mirror else 1)))
    aug = augment_mod.build_augment(cfg.aug, cfg.ada_target, ada_kimg).to(device)
    blur_kimg = cfg.blur_kimg if cfg.blur_kimg is not None else cfg.kimg / 3

    # Lazy regularisation: R1 runs every r1_interval steps, so Adam's lr and betas are
    # rescaled to keep the effective optimisation the same (StyleGAN2 appendix).
    ratio = cfg.r1_interval / (cfg.r1_interval + 1)
    opt_G = torch.optim.Adam(G.parameters(), lr=cfg.lr, betas=(0.0, 0.99), eps=1e-8)
    opt_D = torch.optim.Adam(D.parameters(), lr=cfg.lr * ratio, betas=(0.0, 0.99 ** ratio),
                             eps=1e-8)
    gamma = cfg.gamma if cfg.gamma is not None else default_gamma(cfg.res, cfg.batch)
    # The variety floor: 0.9 of the typical difference between two real images (every rank
    # computes the same number from the same draw).
    floor_idx = torch.randperm(len(data.images), generator=torch.Generator().manual_seed(11))
    variety_floor = VARIETY_FLOOR * real_pair_distance(
        to_tensor(data.images[sorted(floor_idx[:256].tolist())], int(G.img_channels)))
    ema_kimg = cfg.ema_kimg if cfg.ema_kimg is not None else cfg.batch * 10 / 32

    cur_nimg, batch_idx, tick = 0, 0, 0
    # How often the lazy schedules actually ran: they travel in checkpoints, so a resumed run
    # can be checked against the batches it counted.
    counters = {"r1_steps": 0, "ada_updates": 0}
    if resume_state is not None:
        G.load_state_dict(resume_state["G"])
        D.load_state_dict(resume_state["D"])
        G_ema.load_state_dict(resume_state["G_ema"])
        opt_G.load_state_dict(resume_state["opt_G"])
        opt_D.load_state_dict(resume_state["opt_D"])
        aug.load_state(resume_state["augment"])
        cur_nimg, batch_idx, tick = (int(resume_state["cur_nimg"]),
                                     int(resume_state["batch_idx"]), int(resume_state["tick"]))
        counters.update(resume_state.get("counters") or {})
        if rank == 0:
            torch.set_rng_state(resume_state["rng"]["torch"])
            sampler.set_state(resume_state["rng"]["data"])
            if device.type == "cuda" and resume_state["rng"].get("cuda") is not None:
                torch.cuda.set_rng_state(resume_state["rng"]["cuda"], device)

    # -- what rank 0 writes: config, reals grid, SWD reference, fixed sample latents ------------
    history: list[dict] = []
    evals = Evaluators()
    grid_g = torch.Generator().manual_seed(cfg.seed + 12345)
    grid_z = torch.randn(cfg.grid, G.z_dim, generator=grid_g).to(device)
    if rank == 0:
        from liveGAN.train import metrics, plots

        (out / "samples").mkdir(exist_ok=True)
        write_text(out / "config.json", json.dumps(asdict(cfg), indent=1))
        if not plots.curves_available():
            log("curves: matplotlib is not installed, so RUN/curves.png is skipped "
                "(pip install 'livegan[train]'); metrics.jsonl has every figure")
        history = _read_history(out / "metrics.jsonl", cur_nimg)
        saved_row = json.loads(resume_state.get("metrics_row") or "{}") if resume_state else {}
        # The checkpoint's row is missing from the file only when it is newer than the file's
        # last row (a kill between checkpoint and metrics line). A checkpoint written by a stop
        # between ticks carries the last tick's row, which the file already has.
        if saved_row and (not history or history[-1].get("kimg", 0)
                          < saved_row.get("kimg", 0) - 0.0005):
            history.append(saved_row)
            write_text(out / "metrics.jsonl", "".join(json.dumps(r) + "\n" for r in history))
        n_ref = min(cfg.swd_images, len(data.images))
        ref_idx = torch.randperm(len(data.images), generator=torch.Generator().manual_seed(7))
        reals = to_tensor(data.images[sorted(ref_idx[:n_ref].tolist())], int(G.img_channels))
        # Spread over the reference set: the cache is in file order, so its first images are
        # often one folder (one class) only.
        plots.save_grid(out / "samples" / "reals.png",
                        reals[torch.linspace(0, n_ref - 1, min(cfg.grid, n_ref)).long()])
        if cfg.swd_every > 0:
            from liveGAN.train.diversity import Diversity

            evals.swd = metrics.SWD(reals, per_image=32, directions=128)
            evals.diversity = Diversity(reals)
        if cfg.inception:
            try:
                evals.inception = metrics.InceptionMetrics(cfg.inception, reals, device)
            except ValueError as err:
                raise TrainError(f"--inception: {err}") from None
        if cfg.judge:
            from liveGAN.train.judge import ClassCoverage, JudgeError, load_judge

            try:
                evals.judge = ClassCoverage(load_judge(cfg.judge))
            except JudgeError as err:
                raise TrainError(f"--judge: {err}") from None
        write_patch(out)

    # -- signals: SIGINT/SIGTERM finish the step, write a checkpoint and exit 0 -----------------
    stop = {"requested": False}

    def _request_stop(signum, frame):
        stop["requested"] = True

    old_handlers = {s: signal.signal(s, _request_stop) for s in (signal.SIGINT, signal.SIGTERM)}

    def autocast():
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=use_amp)

    # The trained network goes through its DDP wrapper (G_train / D_train); the frozen one is
    # called bare (G_pass / D), so no wrapper ever waits for gradients that never come.
    G_pass = _GeneratorPass(G, cfg.style_mixing)
    G_train = _data_parallel(G_pass, G, world, device)
    D_train = _data_parallel(D, D, world, device)
    D_fake_sync = getattr(D_train, "no_sync", contextlib.nullcontext)

    # -- the loop ------------------------------------------------------------------------------
    total_nimg = int(cfg.kimg * 1000)
    tick_nimg = max(1, int(cfg.tick * 1000))
    tick_start_nimg = cur_nimg
    tick_start_time = time.monotonic()
    sums: dict[str, float] = {}
    counts: dict[str, int] = {}
    progress = Progress(cfg.progress and rank == 0, cfg.kimg, start_kimg=cur_nimg / 1000)
    if history:
        progress.set_metrics(history[-1])
    watch = ThroughputWatch() if rank == 0 and device.type == "cpu" else None
    rate = 0.0
    if rank == 0:
        log(f"training {arch} {cfg.res}x{cfg.res}, batch {cfg.batch} ({world} process(es)"
            f"{', DistributedDataParallel' if world > 1 else ''}), "
            f"aug {cfg.aug}{f' (p from 0 to 1 in {ada_kimg:g} kimg)' if cfg.aug == 'ada' else ''}"
            f"{_blur_note(cfg.blur_sigma, blur_kimg)}"
            f"{f', D redraws its reals (weight {cfg.d_recon:g})' if cfg.d_recon > 0 else ''}"
            f", gamma {gamma:.4g}, device {device}"
            f"{' (bf16 autocast)' if use_amp else ''}, until kimg {cfg.kimg:g}")
        busy = _busy_cpu_note(device)
        if busy:
            log(busy)

    def add(name, value):
        sums[name] = sums.get(name, 0.0) + float(value)
        counts[name] = counts.get(name, 0) + 1

    exit_reason = "done"
    try:
        while True:
            done = cur_nimg >= total_nimg
            stopping = stop["requested"]
            if world > 1:
                flag = torch.tensor([float(stopping)], device=device)
                torch.distributed.all_reduce(flag)
                stopping = bool(flag.item() > 0)
            if done or stopping:
                exit_reason = "done" if done else "stopped"
                break

            blur = augment_mod.d_blur_sigma(cfg.blur_sigma, blur_kimg, cur_nimg / 1000)
            # G step: make D call fakes real, and keep fakes of different latents at least as
            # different as the variety floor (a hinge that only acts on collapse).
            G.requires_grad_(True)
            z = torch.randn(batch_gpu, G.z_dim, device=device)
            with autocast():
                fakes = G_train(z)
                fake_logits = D(aug(augment_mod.blur_for_d(fakes, blur)))
                loss_G = generator_loss(fake_logits.float())
            total_G = loss_G
            if cfg.variety > 0:
                variety = variety_penalty(fakes, variety_floor)
                add("variety", variety.item())
                total_G = loss_G + cfg.variety * variety
            opt_G.zero_grad(set_to_none=True)
            total_G.backward()
            G.requires_grad_(False)
            _sanitise_grads(G)
            opt_G.step()
            add("loss_G", loss_G.item())

            # D step: tell reals from fakes. The fake half's gradients stay local (no_sync) and
            # are averaged with the real half's in the second backward.
            D.requires_grad_(True)
            opt_D.zero_grad(set_to_none=True)
            z = torch.randn(batch_gpu, G.z_dim, device=device)
            with torch.no_grad(), autocast():
                fake = G_pass(z, update_emas=True)
            with D_fake_sync():
                with autocast():
                    fake_logits = D_train(aug(augment_mod.blur_for_d(fake, blur)))
                    loss_fake = fake_loss(fake_logits.float())
                loss_fake.backward()
            # Lazy R1 on the same real pass, every r1_interval steps, scaled up by the interval
            # to compensate; in fp32 then, because the double backward is fragile in bf16.
            r1_due = batch_idx % cfg.r1_interval == 0 and gamma > 0
            real = sampler.next().detach().requires_grad_(r1_due)
            with autocast() if not r1_due else contextlib.nullcontext():
                real_in = aug(augment_mod.blur_for_d(real, blur))
                if cfg.d_recon > 0:
                    # D also redraws the real image it saw from its 8x8 features (FastGAN's
                    # self-supervision): it must hold the digit's shape, not only a cue.
                    real_logits, drawn = D_train(real_in, recon=True)
                    loss_real = real_loss(real_logits.float())
                    recon = torch.nn.functional.mse_loss(drawn.float(),
                                                         recon_target(real_in.detach()))
                    add("recon", recon.item())
                    total_real = loss_real + cfg.d_recon * recon
                else:
                    real_logits = D_train(real_in)
                    loss_real = total_real = real_loss(real_logits.float())
            if r1_due:
                r1 = r1_penalty(real, real_logits)
                (total_real + r1 * (gamma / 2) * cfg.r1_interval).backward()
                add("r1", r1.item())
                counters["r1_steps"] += 1
            else:
                total_real.backward()
            D.requires_grad_(False)
            if isinstance(aug, augment_mod.ADA):
                aug.accumulate(real_logits.detach())
            add("loss_D", loss_fake.item() + loss_real.item())
            add("D_real", real_logits.float().mean().item())
            add("D_fake", fake_logits.float().mean().item())
            _sanitise_grads(D)
            opt_D.step()

            # EMA of G, with a ramp-up so early EMA weights do not lag the fast-changing G.
            ema_nimg = ema_kimg * 1000
            if cfg.ema_rampup:
                ema_nimg = min(ema_nimg, cur_nimg * cfg.ema_rampup)
            beta = 0.5 ** (cfg.batch / max(ema_nimg, 1e-8))
            with torch.no_grad():
                for p_ema, p in zip(G_ema.parameters(), G.parameters()):
                    p_ema.copy_(p.detach().lerp(p_ema, beta))
                for b_ema, b in zip(G_ema.buffers(), G.buffers()):
                    b_ema.copy_(b)

            # ADA: adjust p from the sign of D's real logits, every `interval` steps.
            if isinstance(aug, augment_mod.ADA) and batch_idx % aug.interval == aug.interval - 1:
                if world > 1:
                    s = torch.tensor([aug._signs_sum, float(aug._signs_count)], device=device)
                    torch.distributed.all_reduce(s)
                    aug._signs_sum, aug._signs_count = float(s[0]), int(s[1])
                rt = aug.update(cfg.batch)
                counters["ada_updates"] += 1
                if rt is not None:
                    add("ada_rt", rt)

            cur_nimg += cfg.batch
            batch_idx += 1
            elapsed = time.monotonic() - tick_start_time
            rate = (cur_nimg - tick_start_nimg) / max(elapsed, 1e-6)
            progress.update(cur_nimg / 1000, rate, {k: sums[k] / counts[k] for k in sums},
                            aug.p)
            if watch is not None:
                warning = watch.step(cur_nimg)
                if warning:
                    progress.message(warning)

            # Tick: metrics, samples, checkpoint, model.
            if cur_nimg >= tick_start_nimg + tick_nimg or cur_nimg >= total_nimg:
                tick += 1
                row = {"kimg": round(cur_nimg / 1000, 3), "tick": tick,
                       **{k: sums[k] / counts[k] for k in sums}, "aug_p": aug.p,
                       "img_per_s": rate, "sec_per_tick": elapsed, "gamma": gamma}
                if rank == 0:
                    _tick_outputs(cfg, out, row, tick, G, D, G_ema, opt_G, opt_D, aug, sampler,
                                  cur_nimg, batch_idx, counters, arch, g_kwargs, grid_z, evals,
                                  history, device)
                    progress.set_metrics(row)
                    progress.update(cur_nimg / 1000, rate, row, aug.p, force=True)
                    from liveGAN.train.diversity import collapse_warning

                    warning = collapse_warning(row, cfg.aug)
                    if warning:
                        progress.message(warning)
                    if watch is not None:
                        watch.skip(cur_nimg)
                if world > 1:
                    torch.distributed.barrier()
                sums.clear()
                counts.clear()
                tick_start_nimg, tick_start_time = cur_nimg, time.monotonic()
    finally:
        progress.close()
        for s, h in old_handlers.items():
            signal.signal(s, h)

    # Final (or interrupted) state: checkpoint and model at exactly where we stopped.
    if rank == 0:
        last = ckpt.list_checkpoints(out)
        if not last or not last[-1].name.endswith(f"{cur_nimg:012d}.pt"):
            _save_all(cfg, out, G, D, G_ema, opt_G, opt_D, aug, sampler, cur_nimg, batch_idx,
                      counters, tick, arch, g_kwargs, history, device)
        log(f"{exit_reason} at kimg {cur_nimg / 1000:.3f}: {out / 'model.safetensors'}")
    if world > 1:
        # DDP's averaged gradients keep every rank's weights identical; check it once at the end.
        dist = torch.distributed
        sums = torch.stack([torch.stack([p.detach().double().sum() for p in net.parameters()]).sum()
                            for net in (G, D)])
        lo, hi = sums.clone(), sums.clone()
        dist.all_reduce(lo, op=dist.ReduceOp.MIN)
        dist.all_reduce(hi, op=dist.ReduceOp.MAX)
        if rank == 0:
            same = bool(torch.equal(lo, hi))
            log(f"DDP: G and D weights {'identical' if same else 'DIFFER'} on all {world} processes")
        dist.barrier()
        # The DDP wrappers' reducers hold the process group and its threads: free them first,
        # or their destructors run after the group is gone and abort the process at exit.
        del G_train, D_train, D_fake_sync
        gc.collect()
        dist.destroy_process_group()
    return 0


def _read_history(path: Path, cur_nimg: int) -> list[dict]:
    """metrics.jsonl rows up to `cur_nimg`; rows past it (after a kill) are dropped from it."""
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue   # a line cut short by a kill
        if row.get("kimg", 0) * 1000 <= cur_nimg + 0.5:
            rows.append(row)
    write_text(path, "".join(json.dumps(r) + "\n" for r in rows))
    return rows


def _load_data(cfg: TrainConfig, out: Path, rank: int, world: int, log):
    """The prepared data set at cfg.res: rank 0 builds the cache, the other ranks map it."""
    data = None
    if rank == 0:
        data = prepare(cfg.data, cfg.res, out / "cache", cfg.fit, log=log)
        log(f"data: {len(data.images)} images at {cfg.res}x{cfg.res} "
            f"({'cached' if data.from_cache else 'prepared'}: {data.cache_path.name})"
            + (f", {len(data.skipped)} skipped" if data.skipped else ""))
    if world > 1:
        torch.distributed.barrier()   # rank 0 built the cache; the others now just map it
        if rank != 0:
            data = prepare(cfg.data, cfg.res, out / "cache", cfg.fit, log=lambda m: None)
    return data


def _busy_cpu_note(device: torch.device) -> str | None:
    """A note at start when other programs already load the CPU: expect a slow run."""
    if device.type != "cpu" or not hasattr(os, "getloadavg"):
        return None
    load, cores, threads = os.getloadavg()[0], os.cpu_count() or 1, torch.get_num_threads()
    if load <= cores:
        return None
    advice = "; --threads 1 and nice help" if threads > 1 else ""
    return (f"note: load average {load:.1f} on {cores} cores before training starts; this run "
            f"shares the CPU (torch uses {threads} thread(s){advice})")


def _checkpoint_state(cfg, G, D, G_ema, opt_G, opt_D, aug, sampler, cur_nimg, batch_idx, counters,
                      tick, arch, g_kwargs, device) -> dict:
    return {
        "format": 1, "arch": arch, "G_kwargs": g_kwargs, "config": asdict(cfg),
        "G": G.state_dict(), "D": D.state_dict(), "G_ema": G_ema.state_dict(),
        "opt_G": opt_G.state_dict(), "opt_D": opt_D.state_dict(), "augment": aug.state(),
        "cur_nimg": int(cur_nimg), "batch_idx": int(batch_idx), "tick": int(tick),
        "counters": dict(counters),
        "rng": {"torch": torch.get_rng_state(), "data": sampler.state(),
                "cuda": torch.cuda.get_rng_state(device) if device.type == "cuda" else None},
    }


def _save_all(cfg, out, G, D, G_ema, opt_G, opt_D, aug, sampler, cur_nimg, batch_idx, counters,
              tick, arch, g_kwargs, history, device) -> None:
    from liveGAN.models.formats.native import save_native

    state = _checkpoint_state(cfg, G, D, G_ema, opt_G, opt_D, aug, sampler, cur_nimg, batch_idx,
                              counters, tick, arch, g_kwargs, device)
    last = history[-1] if history else {}
    # The tick's metrics row travels in the checkpoint too: a kill between the checkpoint and
    # the metrics.jsonl line must not leave a hole in the history after --resume.
    state["metrics_row"] = json.dumps(last)
    ckpt.save_checkpoint(out, state, cur_nimg)
    meta = {"training": {"kimg": round(cur_nimg / 1000, 3), "data": str(cfg.data),
                         "res": cfg.res, "aug": cfg.aug,
                         "swd": last.get("swd"), "coverage": last.get("coverage"),
                         "made_by": "livegan train"}}
    save_native(out / "model.safetensors", G_ema, arch, g_kwargs, meta)


def _tick_outputs(cfg, out, row, tick, G, D, G_ema, opt_G, opt_D, aug, sampler, cur_nimg,
                  batch_idx, counters, arch, g_kwargs, grid_z, evals, history, device) -> None:
    """Rank 0 at the end of a tick: samples, metrics, checkpoint, model, curves."""
    from liveGAN.train import plots

    with torch.no_grad():
        images = G_ema(grid_z, None, noise_mode="const").float().cpu()
    # Named by kimg with three decimals, so short ticks (< 1 kimg) do not overwrite each other.
    plots.save_grid(out / "samples" / f"fakes{cur_nimg / 1000:010.3f}.png", images)
    plots.save_grid(out / "samples" / "latest.png", images)
    # SWD, coverage and the judge share a schedule and one set of generated images.
    due = evals.swd is not None and tick % max(cfg.swd_every, 1) == 0
    if due or evals.inception is not None or (evals.judge is not None and cfg.swd_every == 0):
        count = evals.swd.count if evals.swd is not None else 256
        fakes = _generate(G_ema, count, device, seed=cfg.seed + 999)
        if due:
            row.update({k: round(v, 4) for k, v in evals.swd.distance(fakes).items()})
            row.update({k: round(v, 4) for k, v in evals.diversity.measure(fakes).items()})
        if evals.inception is not None:
            row.update(evals.inception.distance(fakes))
        if evals.judge is not None:
            row.update({k: round(v, 4) if isinstance(v, float) else v
                        for k, v in evals.judge.measure(fakes).items()})
            row["num_classes"] = evals.judge.num_classes
    row["time"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    history.append(row)
    # The checkpoint first, then the metrics line: after a kill, a line never describes
    # a state that cannot be resumed.
    _save_all(cfg, out, G, D, G_ema, opt_G, opt_D, aug, sampler, cur_nimg, batch_idx, counters,
              tick, arch, g_kwargs, history, device)
    with open(out / "metrics.jsonl", "a") as f:
        f.write(json.dumps(row) + "\n")
    if plots.curves_available():
        plots.draw_curves(history, out / "curves.png")


@torch.no_grad()
def _generate(G, count: int, device, seed: int, batch: int = 32) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    out = []
    for i in range(0, count, batch):
        z = torch.randn(min(batch, count - i), G.z_dim, generator=g).to(device)
        out.append(G(z, None, noise_mode="const").float().cpu())
    return torch.cat(out)
