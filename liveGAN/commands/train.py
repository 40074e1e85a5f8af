"""`livegan train DATA --out RUN`: the command line of the training module.

Place in the data flow: user -> **CLI** -> TrainConfig -> training loop. Module-level imports stay
light (no torch): `livegan --help` imports every CLI module.
"""
from __future__ import annotations

import sys


def add_arguments(parser) -> None:
    """Add `livegan train`'s options to `parser`."""
    parser.add_argument("data", nargs="?", help="folder of images (searched recursively: "
                        "jpg, png, webp, bmp); not needed with --resume")
    parser.add_argument("--out", required=True, help="run folder: checkpoints, samples, "
                        "metrics.jsonl, model.safetensors, patch.toml")
    parser.add_argument("--res", type=int, default=128, help="training resolution (power of 2)")
    parser.add_argument("--arch", choices=["light", "stylegan2"], default="light",
                        help="generator architecture (light: fast on CPUs and live)")
    parser.add_argument("--batch", type=int, default=16, help="images per step (all processes)")
    parser.add_argument("--kimg", type=float, default=100.0,
                        help="total length in thousands of real images shown to D")
    parser.add_argument("--tick", type=float, default=4.0, metavar="KIMG",
                        help="write progress, metrics, samples and a checkpoint every KIMG")
    parser.add_argument("--aug", choices=["ada", "diffaugment", "none"], default="ada",
                        help="augmentation against D overfitting small data")
    parser.add_argument("--mirror", action="store_true", help="also train on x-flipped images")
    parser.add_argument("--gamma", type=float, default=None,
                        help="R1 weight (default 0.0002 * res^2 / batch)")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run in --out from its last checkpoint")
    parser.add_argument("--from", dest="from_model", metavar="MODEL", default=None,
                        help="fine-tune from a trained model (any format load_generator reads)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--precision", choices=["auto", "fp32", "bf16"], default=None,
                        help="auto (default): bf16 autocast on CUDA, fp32 elsewhere; bf16 also "
                        "on the CPU; --resume keeps the run's unless given")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    parser.add_argument("--lr", type=float, default=0.002, help="Adam learning rate (G and D)")
    parser.add_argument("--swd-every", type=int, default=1, metavar="TICKS",
                        help="compute SWD every TICKS ticks (0: never)")
    parser.add_argument("--swd-images", type=int, default=256,
                        help="real and generated images compared by SWD")
    parser.add_argument("--inception", default=None, metavar="PATH",
                        help="TorchScript feature extractor on disk: adds FID and KID")
    parser.add_argument("--fit", choices=["crop", "pad"], default="crop",
                        help="make images square by centre-cropping or black padding")
    parser.add_argument("--channel-base", type=int, default=None,
                        help="network width (channels = base / resolution, capped)")
    parser.add_argument("--channel-max", type=int, default=None, help="maximum channels")
    parser.add_argument("--ada-target", type=float, default=0.6, help="ADA target for r_t")
    parser.add_argument("--ada-kimg", type=float, default=100.0,
                        help="ADA speed: kimg for p to go from 0 to 1")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads for torch")
    parser.add_argument("--no-progress", action="store_true", help="no progress line")


def config_from_args(args):
    """A TrainConfig from parsed arguments."""
    from liveGAN.train.loop import TrainConfig

    return TrainConfig(
        data=args.data or "", out=args.out, res=args.res, arch=args.arch, batch=args.batch,
        kimg=args.kimg, tick=args.tick, aug=args.aug, mirror=args.mirror, gamma=args.gamma,
        resume=args.resume, from_model=args.from_model, device=args.device,
        precision=args.precision, seed=args.seed, lr=args.lr, swd_every=args.swd_every,
        swd_images=args.swd_images,
        inception=args.inception, fit=args.fit, channel_base=args.channel_base,
        channel_max=args.channel_max, ada_target=args.ada_target, ada_kimg=args.ada_kimg,
        threads=args.threads, progress=not args.no_progress)


def run(args) -> int:
    """Train; errors are one line on stderr and exit code 1."""
    res = args.res
    if res < 8 or res & (res - 1):
        print(f"error: --res must be a power of two >= 8, got {res}", file=sys.stderr)
        return 1
    if not args.resume and not args.data:
        print("error: give the DATA folder (or --resume an existing run)", file=sys.stderr)
        return 1
    if args.batch < 1 or args.kimg <= 0 or args.tick <= 0:
        print("error: --batch, --kimg and --tick must be positive", file=sys.stderr)
        return 1
    from liveGAN.train.checkpoint import CheckpointError
    from liveGAN.train.data import DataError
    from liveGAN.train.loop import TrainError, train

    try:
        return train(config_from_args(args))
    except (DataError, TrainError, CheckpointError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
