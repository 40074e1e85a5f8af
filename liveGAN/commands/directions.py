"""`livegan directions MODEL`: compute a model's latent directions into a file, with a picture.

Place in the data flow: model file -> latent/directions (GANSpace or SeFa) -> a directions file
(safetensors) that a patch's `[[directions]] file = ...` plays as `direction/<k>`, and a contact
sheet PNG: one row per direction, columns from -3 to +3 sigma around one latent, so a performer
sees what each fader will do before the show. Module-level imports stay light: `livegan --help`
imports this file.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from liveGAN.commands.info import add_custom_arguments, custom_spec, report_error
from liveGAN.files import write_png

SIGMAS = (-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `livegan directions`."""
    parser.add_argument("model", help="model file (native .safetensors, NVIDIA .pkl, rosinality "
                                      ".pt, custom) or a preset such as sg2-256")
    parser.add_argument("--method", choices=["ganspace", "sefa"], default="sefa",
                        help="sefa: closed form from the modulation weights (instant); ganspace: "
                             "PCA of W over sampled latents (seconds to a minute)")
    parser.add_argument("--count", type=int, default=8, help="how many directions (default 8)")
    parser.add_argument("--layers", default=None, metavar="A:B",
                        help="W+ rows the directions are for, e.g. 0:4 for the coarse layers "
                             "(default all; `--list-layers` shows which layer reads which row)")
    parser.add_argument("--out", default=None, help="directions file to write (default "
                        "MODEL-NAME.METHOD.safetensors in the current folder)")
    parser.add_argument("--sheet", default=None,
                        help="contact sheet PNG (default: --out with .png)")
    parser.add_argument("--no-sheet", action="store_true", help="write no contact sheet")
    parser.add_argument("--samples", type=int, default=None,
                        help="GANSpace: latents sampled (default 50000; 4000 for custom models)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sampling (default 0)")
    parser.add_argument("--sheet-seed", type=int, default=0,
                        help="seed of the latent the contact sheet varies (default 0)")
    parser.add_argument("--psi", type=float, default=0.7,
                        help="truncation of the contact sheet's latent (default 0.7)")
    parser.add_argument("--tile", type=int, default=128, help="contact sheet tile size in pixels")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads for torch")
    parser.add_argument("--list-layers", action="store_true",
                        help="list the model's layers (name, channels, W+ row) and stop; these "
                             "names are what [[bends]] layer = ... takes")
    add_custom_arguments(parser)


def _load(args: argparse.Namespace):
    """(G, model hash, name) for a preset or a model file."""
    from liveGAN.latent.directions import model_hash, preset_hash
    from liveGAN.models.presets import build_preset, is_preset

    if is_preset(args.model):
        return build_preset(args.model, seed=0), preset_hash(args.model), args.model
    path = Path(args.model)
    if not path.is_file():
        raise ValueError(f"{args.model}: no such model file and not a preset")
    from liveGAN.models import load_generator

    G = load_generator(path, "cpu", custom=custom_spec(args))
    return G, model_hash(path), path.stem


def contact_sheet(G, directions, seed: int = 0, psi: float = 0.7, sigmas=SIGMAS,
                  tile: int = 128):
    """uint8 [K*tile, len(sigmas)*tile, 3]: row k moves the still latent of `seed` along
    direction k by each of `sigmas` standard deviations (on the directions' rows)."""
    import numpy as np
    import torch
    import torch.nn.functional as F

    from liveGAN.latent.walks import Walk

    z = torch.from_numpy(Walk("still", seed, G.z_dim).position(0.0)).reshape(1, -1)
    c = None
    if int(getattr(G, "c_dim", 0) or 0):
        c = torch.zeros([1, G.c_dim])
        c[0, 0] = 1.0
    start, stop = directions.rows
    steps = torch.tensor(sigmas, dtype=torch.float32).reshape(-1, 1)
    rows = []
    with torch.inference_mode():
        ws = G.mapping(z, c, truncation_psi=psi)
        for vector, std in zip(directions.vectors, directions.stds):
            batch = ws.repeat(len(sigmas), 1, 1)
            batch[:, start:stop] += (steps * float(std) * torch.from_numpy(vector))[:, None]
            images = G.synthesis(batch, noise_mode="const").float()
            images = F.interpolate(images[:, :3], size=(tile, tile), mode="area"
                                   if images.shape[-1] >= tile else "bilinear")
            pixels = (images * 127.5 + 128).clamp(0, 255).to(torch.uint8)
            rows.append(torch.cat(list(pixels.permute(0, 2, 3, 1)), dim=1))
    sheet = torch.cat(rows, dim=0).numpy()
    if sheet.shape[-1] == 1:
        sheet = np.repeat(sheet, 3, axis=-1)
    # A dark line between tiles, and the unmoved column (0 sigma) framed in grey.
    sheet[::tile, :] = 24
    sheet[:, ::tile] = 24
    if 0.0 in sigmas:
        middle = list(sigmas).index(0.0) * tile
        sheet[:, middle] = sheet[:, middle + tile - 1] = 160
    return sheet


def run(args: argparse.Namespace) -> int:
    """Compute, write, describe; 1 with one line on any failure."""
    try:
        import torch

        from liveGAN.latent.bending import describe_layers
        from liveGAN.latent.directions import ganspace, sefa

        if args.threads:
            torch.set_num_threads(args.threads)
        G, digest, name = _load(args)
        if args.list_layers:
            print(describe_layers(G))
            return 0
        started = time.perf_counter()
        if args.method == "sefa":
            found = sefa(G, args.count, args.layers, digest, args.seed)
        else:
            found = ganspace(G, args.count, args.samples, args.seed, args.layers,
                             model_hash=digest)
        took = time.perf_counter() - started
        out = Path(args.out or f"{name}.{args.method}.safetensors")
        found.save(out)
        start, stop = found.rows
        print(f"wrote {out}: {found.count} {args.method} directions in {found.space.upper()} "
              f"over rows {start}:{stop} ({took:.2f} s); play them as direction/0.."
              f"direction/{found.count - 1}")
        print("sigma: " + ", ".join(f"{k}: {s:.3f}" for k, s in enumerate(found.stds)))
        if not args.no_sheet:
            sheet_path = Path(args.sheet) if args.sheet else out.with_suffix(".png")
            pixels = contact_sheet(G, found, args.sheet_seed, args.psi, tile=args.tile)
            write_png(sheet_path, pixels)
            print(f"wrote {sheet_path}: row k is direction/k, columns "
                  f"{', '.join(f'{s:+g}' for s in SIGMAS)} sigma (the framed column is the "
                  f"latent itself: seed {args.sheet_seed}, psi {args.psi})")
        return 0
    except Exception as err:  # every failure is one line, not a traceback
        return report_error(err)
