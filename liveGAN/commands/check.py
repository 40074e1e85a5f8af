"""`livegan check PATCH`: validate a patch and report every error at once."""
from __future__ import annotations

import argparse
import sys

from liveGAN.commands.common import add_patch_argument, resolve_patch


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_patch_argument(parser)


def run(args: argparse.Namespace) -> int:
    from liveGAN.patch import check_params, read_patch
    from liveGAN.show.scene import patch_registry

    path = resolve_patch(args.patch)
    patch, problems = read_patch(path)
    registry = None
    if patch is not None:
        # One pass reports everything: the file's own structure, then what needs the model,
        # the effects and the inputs, each problem on its own line.
        model_broken = any(p.key == "model" or p.key.startswith("model.") for p in problems)
        registry, found = patch_registry(patch, load_model=not model_broken)
        problems += found
        checked = check_params(patch, registry)
        if registry.model_missing:
            # Without the model its own parameters are unknown: don't call them wrong.
            checked = [p for p in checked if "a parameter that does not exist" not in p.found]
        problems += checked
    if problems:
        print(f"{len(problems)} problem(s):", file=sys.stderr)
        for problem in problems[:200]:
            print(problem, file=sys.stderr)
        if len(problems) > 200:
            print(f"... and {len(problems) - 200} more", file=sys.stderr)
        return 1
    print(f"{path}: ok ({len(registry)} parameters, {len(patch.stages)} shader stages, "
          f"{len(patch.mappings)} mappings)")
    return 0
