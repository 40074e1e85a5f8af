"""`livegan check PATCH`: validate a patch and report every error at once."""
from __future__ import annotations

import argparse
import sys

from liveGAN.commands.common import add_patch_argument, resolve_patch


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_patch_argument(parser)


def run(args: argparse.Namespace) -> int:
    from liveGAN.commands.scene_params import patch_registry
    from liveGAN.patch import PatchError, check_params, load_patch

    path = resolve_patch(args.patch)
    try:
        patch = load_patch(path)
    except PatchError as err:
        print(f"{len(err.problems)} problem(s):\n{err}", file=sys.stderr)
        return 1
    registry, problems = patch_registry(patch)
    problems += check_params(patch, registry)
    if problems:
        print(f"{len(problems)} problem(s):", file=sys.stderr)
        for problem in problems:
            print(problem, file=sys.stderr)
        return 1
    print(f"{path}: ok ({len(registry)} parameters, {len(patch.stages)} shader stages, "
          f"{len(patch.mappings)} mappings)")
    return 0
