"""`livegan convert IN OUT.safetensors`: any supported model file -> liveGAN's native format.

Place in the data flow: loaders -> **convert** -> native file (read back by the loaders with no
pickle involved). The output is written atomically. Module-level imports stay light.
"""
from __future__ import annotations

import argparse
import os

from liveGAN.commands.info import add_custom_arguments, custom_spec, report_error


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare `livegan convert` options."""
    parser.add_argument("model", help="model file to convert (.pkl, .pt, .safetensors)")
    parser.add_argument("output", help="native model file to write (.safetensors)")
    add_custom_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """Load `args.model`, write it to `args.output` in the native format; 1 on failure."""
    try:
        if not str(args.output).endswith(".safetensors"):
            raise ValueError(f"{args.output}: the native format is written as .safetensors")
        from liveGAN.models import load_generator
        from liveGAN.models.networks import ARCHITECTURES
        from liveGAN.models.formats.native import save_native

        G = load_generator(args.model, "cpu", custom=custom_spec(args))
        metadata = {"source": os.path.basename(str(args.model)),
                    "source_format": getattr(G, "source_format", "?")}
        if getattr(G, "custom_options", None):
            # The network's own weights and how to call it; the code stays the user's.
            from liveGAN.models.formats.custom import save_custom_native

            save_custom_native(args.output, G, metadata)
            print(f"wrote {args.output} (custom {G.custom_options['factory']}, "
                  f"{G.img_size[1]}x{G.img_size[0]}px, z {G.custom_options['z_shape']}); play it "
                  f"with [model] custom = \"{G.custom_options['factory']}\"")
            return 0
        architecture = getattr(G, "architecture", None)
        init_kwargs = getattr(G, "init_kwargs", None)
        if architecture not in ARCHITECTURES or init_kwargs is None:
            raise ValueError(f"{args.model}: a {architecture} model cannot be written in the "
                             f"native format (it rebuilds only {', '.join(ARCHITECTURES)})")
        save_native(args.output, G, architecture, init_kwargs, metadata)
        print(f"wrote {args.output} ({architecture}, {G.img_resolution}px, "
              f"from {metadata['source_format']})")
        return 0
    except Exception as err:  # one line on stderr, never a traceback
        return report_error(err)
