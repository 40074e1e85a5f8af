"""The `livegan` command.

Each subcommand lives in `liveGAN/commands/` and exposes two functions:
`add_arguments(parser)` and `run(args) -> int`. This file only lists them, so the command line,
its help and the README's command list come from one table.
"""
from __future__ import annotations

import argparse
import importlib
import sys

# name -> (module, one-line help). Modules are imported only when their command runs, so
# `livegan osc list` never pays for importing torch-heavy training code.
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("liveGAN.commands.run", "perform a patch live: window, projector or headless recording"),
    "render": ("liveGAN.commands.render", "render a patch offline, frame by frame, into a video"),
    "check": ("liveGAN.commands.check", "validate a patch and report every error at once"),
    "osc": ("liveGAN.commands.osc", "list a patch's OSC address space, or send a message"),
    "shaders": ("liveGAN.commands.shaders", "list shader effects and their parameters"),
    "info": ("liveGAN.commands.info", "describe a model file: format, architecture, sizes"),
    "convert": ("liveGAN.commands.convert", "convert a model to the native .safetensors format"),
    "bench": ("liveGAN.commands.bench", "time a model or preset: ms per frame, fps"),
    "train": ("liveGAN.commands.train", "train a GAN on a folder of images"),
    "directions": ("liveGAN.commands.directions", "find latent directions (GANSpace, SeFa)"),
    "plugins": ("liveGAN.commands.plugins", "list the installed input and output kinds"),
    "learn": ("liveGAN.commands.learn", "move a MIDI control to map it onto a parameter"),
    "devices": ("liveGAN.commands.devices",
                "list displays, audio inputs, MIDI ports, NDI sources and virtual cameras"),
    "listen": ("liveGAN.commands.listen",
               "meters of what an audio input hears, or a song's tempo, beats and onsets"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="livegan", description="liveGAN: play GANs live.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        command = sub.add_parser(name, help=help_text, description=help_text)
        module = importlib.import_module(module_name)
        module.add_arguments(command)
        command.set_defaults(_module=module)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return int(args._module.run(args) or 0)
    except KeyboardInterrupt:
        return 130


def entry() -> None:
    """The `livegan` program: `main`, then the process ends with its status, even when a
    sound device's close still hangs (PortAudio's shutdown would wait for it forever). Only
    here, not in `main`, which other programs and the tests call in their own process."""
    status = main()
    audio = sys.modules.get("liveGAN.sources.audio")
    if audio is not None:
        audio.leave_now_if_a_close_hangs(status)
    sys.exit(status)


if __name__ == "__main__":
    entry()
