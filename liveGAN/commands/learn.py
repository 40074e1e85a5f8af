"""`livegan learn PATCH PARAM`: move a MIDI control and it drives PARAM, written into the patch.

Place in the data flow: a controller -> the patch's MIDI input (opened here, without a show) ->
the first control that moves -> a `[[mappings]]` table added to the patch file, keeping its
comments and layout. A show playing that patch reloads it at once. During a show the same is
`/livegan/learn <param>` (or the window's L key); this command sets a controller up before one.
"""
from __future__ import annotations

import argparse
import threading
from types import MappingProxyType


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("patch", help="the patch to add the mapping to")
    parser.add_argument("param", help="the parameter to drive, e.g. latent/speed")
    parser.add_argument("--port", help="MIDI input: a name, re:<regex> or * (default: the "
                                       "patch's midi input, else *)")
    parser.add_argument("--api", choices=("auto", "jack", "alsa", "coremidi", "windows"),
                        help="MIDI system (default: the patch's, else auto)")
    parser.add_argument("--timeout", type=float, default=30.0,
                        help="seconds to wait for a control to move (default 30)")


class _LearnLink:
    """What the MIDI source sees of a show here: only learn listens, so every event is
    offered to it with its kind (cc, cc14, relative, note, bend, pressure, program)."""

    def __init__(self) -> None:
        self.heard: list[tuple] = []
        self.event = threading.Event()
        self.lines: list[str] = []

    def routes(self):
        return MappingProxyType({"/livegan/learn/heard": "action"})

    def log(self, kind: str, message: str) -> None:
        self.lines.append(message)

    def say(self, message: str) -> None:
        print(message, flush=True)

    def post(self, address: str, *values) -> bool:
        if address == "/livegan/learn/heard" and not self.event.is_set():
            self.heard.append(values)
            self.event.set()
        return True


def run(args: argparse.Namespace) -> int:
    from liveGAN.patch import PatchError, load_patch
    from liveGAN.show.learn import add_mapping_to_file, mapping_for
    from liveGAN.show.scene import patch_registry
    from liveGAN.sources.midi import MidiSource

    try:
        patch = load_patch(args.patch)
    except PatchError as err:
        print(err)
        return 1
    registry, _ = patch_registry(patch, load_model=False)
    param = registry.get(args.param)
    if param is None or param.readonly:
        groups = sorted({p.group for p in registry if not p.readonly})
        print(f"learn: {args.param!r} is not a settable parameter of {args.patch} "
              f"(groups: {', '.join(groups)}; `livegan osc list {args.patch}` lists them)")
        return 1
    options = next((dict(spec.options) for spec in patch.inputs if spec.kind == "midi"), {})
    options["output"] = False
    options.pop("clock_out", None)
    if args.port:
        options["port"] = args.port
    if args.api:
        options["api"] = args.api
    try:
        source = MidiSource(options)
    except ValueError as err:
        print(err)
        return 1
    link = _LearnLink()
    source.connect(link)
    try:
        source.start(link.post)
    except RuntimeError as err:
        print(err)
        return 1
    try:
        print(f"learn: move a MIDI control to drive {param.key} ({args.timeout:g} s)",
              flush=True)
        if not link.event.wait(args.timeout):
            print(f"learn: no MIDI control moved within {args.timeout:g} s; nothing changed")
            return 1
    finally:
        source.stop()
    address, _value, kind = link.heard[0]
    spec = mapping_for(address, kind, param)
    add_mapping_to_file(patch.path, spec)
    print(f"learn: {address} now drives {param.key} (written into {patch.path})")
    return 0
