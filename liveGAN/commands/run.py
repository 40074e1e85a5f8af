"""`livegan run [PATCH]`: perform a patch live."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from liveGAN.commands.common import add_patch_argument, display_available, parse_size, resolve_patch



def display_arg(text: str) -> int | str:
    """`--display 1` or `--display HDMI-1`: an index when it is a whole number, else a name."""
    text = text.strip()
    if not text:
        raise argparse.ArgumentTypeError("a display index or name, not nothing")
    return int(text) if text.isdigit() else text

def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_patch_argument(parser)
    parser.add_argument("--headless", action="store_true",
                        help="render through EGL with no window (automatic when no display)")
    parser.add_argument("--frames", type=int, help="stop after N displayed frames")
    parser.add_argument("--duration", type=float, help="stop after S seconds")
    parser.add_argument("--size", type=parse_size, help="output size WxH, e.g. 1920x1080")
    parser.add_argument("--fps", type=float, help="display frame rate (patch: output.fps)")
    parser.add_argument("--record", type=Path, help="record the output to FILE (.mp4 or .mkv)")
    parser.add_argument("--osc-port", type=int, help="OSC port (patch: osc.port; 0: any free)")
    parser.add_argument("--no-osc", action="store_true", help="do not listen for OSC")
    parser.add_argument("--display", type=display_arg, metavar="N|NAME",
                        help="open the window on display N, or the one of that name "
                             "(`livegan devices` lists them)")
    parser.add_argument("--fullscreen", action="store_true", default=None,
                        help="fullscreen on the chosen display (a projector)")
    parser.add_argument("--seed", type=int, help="seed of the latent walk")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"),
                        help="where the generator runs (patch: model.device)")
    parser.add_argument("--no-watch", action="store_true",
                        help="do not reload the patch and shaders when they change")


def run(args: argparse.Namespace) -> int:
    from liveGAN.show.options import RunOptions

    headless = args.headless
    if not headless and not display_available():
        print("no display found: running headless (use --record FILE to keep the output)",
              flush=True)
        headless = True
    options = RunOptions(headless=headless, frames=args.frames, duration=args.duration,
                         size=args.size, fps=args.fps, record=args.record,
                         osc_port=args.osc_port, no_osc=args.no_osc, display=args.display,
                         fullscreen=args.fullscreen, seed=args.seed, device=args.device,
                         watch=not args.no_watch)
    return play(resolve_patch(args.patch), options)


def play(patch_path: Path, options) -> int:
    """Build the engine and run it, turning known failures into one message and exit 1."""
    from liveGAN.patch import PatchError
    from liveGAN.show.show import Show

    try:
        summary = Show(patch_path, options).run()
    except PatchError as err:
        print(f"patch has errors:\n{err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as err:
        from liveGAN.errors import user_message

        message = user_message(err)
        if message is None:
            raise
        print(message, file=sys.stderr)
        return 1
    print(summary.line(), flush=True)
    return 0
