"""Pictures of a training run: sample grids and the loss/metric curves, as PNG.

Place in the data flow: training loop (EMA samples, metrics history) -> **plots** ->
RUN/samples/*.png and RUN/curves.png. Grids are written with Pillow; the curves are drawn with
matplotlib (Agg, no display) when it is installed (`pip install livegan[train]`), and skipped
with one line saying so when it is not: training never depends on a plotting library.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from liveGAN.files import atomic_path, write_png


def image_grid(images, columns: int | None = None) -> np.ndarray:
    """A uint8 [H, W, 3] grid of images given as a float tensor/array [N, C, R, R] in [-1, 1]."""
    x = np.asarray(images.detach().float().cpu() if hasattr(images, "detach") else images,
                   dtype=np.float32)
    n, c, h, w = x.shape
    if c == 1:
        x = np.repeat(x, 3, axis=1)
    columns = columns or int(math.ceil(math.sqrt(n)))
    rows = int(math.ceil(n / columns))
    pad = np.zeros((rows * columns - n, 3, h, w), np.float32) - 1
    x = np.concatenate([x[:, :3], pad])
    x = x.reshape(rows, columns, 3, h, w).transpose(0, 3, 1, 4, 2).reshape(rows * h, columns * w, 3)
    return (np.clip(x * 127.5 + 128, 0, 255)).astype(np.uint8)


def save_grid(path, images, columns: int | None = None) -> Path:
    """Write `image_grid(images)` to `path` (PNG, atomically)."""
    return write_png(path, image_grid(images, columns))


# Panels of the curves figure: title, and the metrics.jsonl keys drawn in it with their colours.
PANELS = [
    ("losses", [("loss_G", "#ff8c3c"), ("loss_D", "#50aaff"), ("r1", "#aaaaaa")]),
    ("augmentation p / r_t", [("aug_p", "#78e678"), ("ada_rt", "#e65ac8")]),
    ("SWD x1e3 (lower is better)", [("swd", "#ffe650")]),
    ("variety (coverage, diversity)", [("coverage", "#64dcdc"), ("diversity", "#dc64dc")]),
    ("FID", [("fid", "#ff6464")]),
]


def curves_available() -> bool:
    """Whether matplotlib is installed (the curves need it; nothing else does)."""
    import importlib.util

    return importlib.util.find_spec("matplotlib") is not None


class PlotUnavailable(RuntimeError):
    """matplotlib is not installed: curves are skipped (the message says how to get them)."""


def draw_curves(history: list[dict], path, width: int = 900, panel_height: int = 200) -> Path:
    """Draw the curves of `history` (metrics.jsonl rows) against kimg into a PNG at `path`,
    one panel per group of metrics present. Raises PlotUnavailable without matplotlib."""
    try:
        import matplotlib
    except ImportError as err:
        raise PlotUnavailable("curves.png needs matplotlib: pip install 'livegan[train]'") \
            from err
    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    panels = [(t, keys) for t, keys in PANELS
              if any(k in row for row in history for k, _ in keys)] or PANELS[:1]
    dpi = 100
    fig = Figure(figsize=(width / dpi, panel_height * len(panels) / dpi), dpi=dpi,
                 facecolor="#101014", layout="constrained")
    axes = fig.subplots(len(panels), 1, sharex=True, squeeze=False)[:, 0]
    for ax, (title, keys) in zip(axes, panels):
        ax.set_facecolor("#101014")
        ax.set_title(title, color="#dddddd", fontsize=9, loc="left")
        ax.tick_params(colors="#a0a0a0", labelsize=8)
        for spine in ax.spines.values():
            spine.set_color("#46464f")
        for key, colour in keys:
            points = [(float(r["kimg"]), float(r[key])) for r in history
                      if key in r and "kimg" in r and math.isfinite(float(r[key]))]
            if points:
                xs, ys = zip(*points)
                ax.plot(xs, ys, color=colour, linewidth=1.5, label=key,
                        marker="o" if len(points) == 1 else None)
        if ax.lines:
            ax.legend(loc="upper right", fontsize=8, facecolor="#101014", edgecolor="#46464f",
                      labelcolor="#dddddd")
    axes[-1].set_xlabel("kimg", color="#a0a0a0", fontsize=8)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", facecolor=fig.get_facecolor())
    return Path(path)
