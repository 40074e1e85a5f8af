"""`livegan train DATA --out RUN`: the command line of the training module.

Place in the data flow: user -> **CLI** -> TrainConfig -> training loop. Module-level imports stay
light (no torch): `livegan --help` imports every CLI module.
"""
from __future__ import annotations

import sys


def _option(parser, *names, help: str, **kwargs) -> None:
    """An option whose help ends with its default, when it has one worth showing."""
    default = kwargs.get("default")
    if default is not None and default is not False and "%(default)" not in help:
        help += " (default: %(default)s)"
    parser.add_argument(*names, help=help, **kwargs)


def add_arguments(parser) -> None:
    """Add `livegan train`'s options to `parser` (each help says its default)."""
    parser.add_argument("data", nargs="?", help="folder of images (searched recursively: "
                        "jpg, png, webp, bmp); not needed with --resume")
    parser.add_argument("--out", required=True, help="run folder: checkpoints, samples, "
                        "metrics.jsonl, model.safetensors, patch.toml")
    _option(parser, "--res", type=int, default=128, help="training resolution (power of 2)")
    _option(parser, "--arch", choices=["light", "stylegan2"], default="light",
            help="generator architecture (light: fast on CPUs and live)")
    _option(parser, "--batch", type=int, default=None,
            help="images per step (all processes) (default: 2 on a CPU, 16 on CUDA)")
    _option(parser, "--kimg", type=float, default=None,
            help="total length in thousands of real images shown to D (default: 100; "
                 "--resume keeps the run's unless given)")
    _option(parser, "--tick", type=float, default=None, metavar="KIMG",
            help="write progress, metrics, samples and a checkpoint every KIMG (default: 4; "
                 "--resume keeps the run's unless given)")
    _option(parser, "--aug", choices=["ada", "diffaugment", "none"], default="ada",
            help="augmentation against D overfitting small data")
    _option(parser, "--mirror", action="store_true", default=False,
            help="also train on x-flipped images")
    _option(parser, "--gamma", type=float, default=None,
            help="R1 weight (default: 0.0002 * res^2 / batch)")
    _option(parser, "--resume", action="store_true", default=False,
            help="continue the run in --out from its last checkpoint")
    _option(parser, "--from", dest="from_model", metavar="MODEL", default=None,
            help="fine-tune from a trained model (any format load_generator reads)")
    _option(parser, "--device", default="auto", help="auto, cpu, cuda or cuda:N")
    _option(parser, "--precision", choices=["auto", "fp32", "bf16"], default=None,
            help="auto (the default): bf16 autocast on CUDA, fp32 elsewhere; bf16 also on the "
                 "CPU; --resume keeps the run's unless given")
    _option(parser, "--seed", type=int, default=0, help="random seed")
    _option(parser, "--lr", type=float, default=0.002, help="Adam learning rate (G and D)")
    _option(parser, "--swd-every", type=int, default=None, metavar="TICKS",
            help="compute SWD, coverage/density/diversity (and --judge) every TICKS ticks "
                 "(0: never; default: 1; --resume keeps the run's unless given)")
    _option(parser, "--swd-images", type=int, default=256,
            help="real and generated images compared by SWD and coverage")
    _option(parser, "--inception", default=None, metavar="PATH",
            help="TorchScript feature extractor on disk: adds FID and KID")
    _option(parser, "--judge", default=None, metavar="CLASSIFIER",
            help="your classifier (.safetensors from `python -m liveGAN.train.judge`, or "
                 "TorchScript): reports how many classes the samples cover")
    _option(parser, "--fit", choices=["crop", "pad"], default="crop",
            help="make images square by centre-cropping or black padding")
    _option(parser, "--channel-base", type=int, default=None,
            help="network width (channels = base / resolution, capped; default: the "
                 "architecture's)")
    _option(parser, "--channel-max", type=int, default=None,
            help="maximum channels (default: the architecture's)")
    _option(parser, "--ada-target", type=float, default=0.6, help="ADA target for r_t")
    _option(parser, "--ada-kimg", type=float, default=None,
            help="ADA speed: kimg for p to go from 0 to 1 (default: ten epochs of the data, "
                 "at most --kimg, between 16 and 100)")
    _option(parser, "--blur-sigma", type=float, default=0.0, metavar="PX",
            help="D sees real and generated images blurred by a Gaussian of PX pixels at the "
                 "start, fading out by --blur-kimg: it must judge shapes before detail (0: off)")
    _option(parser, "--blur-kimg", type=float, default=None, metavar="KIMG",
            help="kimg by which the blur of D's input has faded out (default: a third of "
                 "--kimg)")
    _option(parser, "--variety", type=float, default=4.0, metavar="WEIGHT",
            help="weight of the variety floor: pushes apart generated images of different "
                 "latents when they differ less than 0.9 as much as two real images (0: off)")
    _option(parser, "--d-recon", type=float, default=0.0, metavar="WEIGHT",
            help="weight of a task for D: redraw each real image from its 8x8 features, so it "
                 "learns the images' shapes and not only a cue (FastGAN's self-supervision; "
                 "0: off)")
    _option(parser, "--style-mixing", type=float, default=0.9, metavar="P",
            help="probability that a training image mixes the styles of two latents "
                 "(StyleGAN2's regulariser; 0: off)")
    _option(parser, "--mbstd-group", type=int, default=4, metavar="N",
            help="D compares the spread of each group of N images (minibatch standard "
                 "deviation) with the data's: larger groups see a lack of variety sooner")
    _option(parser, "--ema-kimg", type=float, default=None, metavar="KIMG",
            help="half-life of the generator's moving average, the model that is saved "
                 "(default: batch * 10 / 32)")
    _option(parser, "--ema-rampup", type=float, default=0.05, metavar="FRACTION",
            help="the half-life is at most this fraction of the images seen so far (0: off)")
    _option(parser, "--threads", type=int, default=None,
            help="CPU threads for torch (default: torch's choice)")
    _option(parser, "--no-progress", action="store_true", default=False,
            help="no progress line")


def config_from_args(args):
    """A TrainConfig from parsed arguments."""
    from liveGAN.train.loop import TrainConfig

    return TrainConfig(
        data=args.data or "", out=args.out, res=args.res, arch=args.arch, batch=args.batch,
        kimg=args.kimg, tick=args.tick, aug=args.aug, mirror=args.mirror, gamma=args.gamma,
        resume=args.resume, from_model=args.from_model, device=args.device,
        precision=args.precision, seed=args.seed, lr=args.lr, swd_every=args.swd_every,
        swd_images=args.swd_images,
        inception=args.inception, judge=args.judge, fit=args.fit, channel_base=args.channel_base,
        channel_max=args.channel_max, ada_target=args.ada_target, ada_kimg=args.ada_kimg,
        blur_sigma=args.blur_sigma, blur_kimg=args.blur_kimg,
        variety=args.variety, d_recon=args.d_recon, style_mixing=args.style_mixing,
        ema_kimg=args.ema_kimg, ema_rampup=args.ema_rampup, mbstd_group=args.mbstd_group,
        threads=args.threads,
        progress=not args.no_progress)


# Each float option: (lowest, highest, whether the lowest itself is allowed); None: not given.
FLOAT_RANGES = {"kimg": (0, 1e6, False), "tick": (0, 1e6, False), "gamma": (0, 1e4, True),
                "lr": (0, 1.0, False), "ada_target": (0, 1.0, True), "ada_kimg": (0, 1e6, False),
                "blur_sigma": (0, 64.0, True), "blur_kimg": (0, 1e6, False),
                "variety": (0, 1e3, True), "d_recon": (0, 1e3, True),
                "style_mixing": (0, 1.0, True),
                "ema_kimg": (0, 1e6, True), "ema_rampup": (0, 1e3, True)}


# Each integer option: (lowest, highest) allowed; None: not given. The batch's bound keeps a
# typo from allocating before anything is checked; the metrics compare samples with at least
# two real images (with one, density and diversity are not defined).
INT_RANGES = {"batch": (1, 4096), "mbstd_group": (1, 1024), "swd_every": (0, 1_000_000),
              "swd_images": (2, 1_000_000), "threads": (1, 1024)}


def number_problem(args) -> str | None:
    """The first number option that is not finite or is out of its range, in one line."""
    import math

    for name, (lo, hi) in INT_RANGES.items():
        value = getattr(args, name, None)
        if value is not None and not lo <= value <= hi:
            return f"--{name.replace('_', '-')} must be between {lo} and {hi}, got {value}"
    for name, (lo, hi, low_ok) in FLOAT_RANGES.items():
        value = getattr(args, name, None)
        if value is None:
            continue
        inside = math.isfinite(value) and (lo <= value if low_ok else lo < value) and value <= hi
        if not inside:
            lower = f">= {lo:g}" if low_ok else f"> {lo:g}"
            return f"--{name.replace('_', '-')} must be a number {lower} and <= {hi:g}, not {value}"
    return None


def run(args) -> int:
    """Train; errors are one line on stderr and exit code 1."""
    res = args.res
    if res < 8 or res & (res - 1):
        print(f"error: --res must be a power of two >= 8, got {res}", file=sys.stderr)
        return 1
    if not args.resume and not args.data:
        print("error: give the DATA folder (or --resume an existing run)", file=sys.stderr)
        return 1
    problem = number_problem(args)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 1
    from liveGAN.train.checkpoint import CheckpointError
    from liveGAN.train.data import DataError
    from liveGAN.train.loop import TrainError, train

    try:
        return train(config_from_args(args))
    except (DataError, TrainError, CheckpointError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
