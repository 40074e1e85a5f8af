"""Pictures of a training run: sample grids and the loss/metric curves, as PNG.

Place in the data flow: training loop (EMA samples, metrics history) -> **plots** ->
RUN/samples/*.png and RUN/curves.png. No matplotlib: the curves are drawn with pygame.draw
onto an off-screen Surface (no display needed), text with pygame's default font, and saved
with liveGAN's own PNG writer.
"""
from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from liveGAN.train.pngio import write_png


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


# Panels of the curves figure: title, the metrics.jsonl keys drawn in it, and their colours.
PANELS = [
    ("losses", [("loss_G", (255, 140, 60)), ("loss_D", (80, 170, 255)),
                ("r1", (170, 170, 170))]),
    ("augmentation p / r_t", [("aug_p", (120, 230, 120)), ("ada_rt", (230, 90, 200))]),
    ("SWD x1e3 (lower is better)", [("swd", (255, 230, 80))]),
    ("FID", [("fid", (255, 100, 100))]),
]


def draw_curves(history: list[dict], path, width: int = 900, panel_height: int = 200) -> Path:
    """Draw the curves of `history` (metrics.jsonl rows) against kimg into a PNG at `path`."""
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    import pygame

    panels = [(t, keys) for t, keys in PANELS
              if any(k in row for row in history for k, _ in keys)]
    panels = panels or PANELS[:1]
    height = panel_height * len(panels)
    surface = pygame.Surface((width, height))
    surface.fill((16, 16, 20))
    pygame.font.init()
    font = pygame.font.Font(None, 18)
    kimg = [float(row.get("kimg", 0)) for row in history]
    x_lo, x_hi = (min(kimg), max(kimg)) if kimg else (0.0, 1.0)
    if x_hi <= x_lo:
        x_hi = x_lo + 1
    left, right, top, bottom = 60, 20, 24, 24
    for p, (title, keys) in enumerate(panels):
        y0 = p * panel_height
        box = pygame.Rect(left, y0 + top, width - left - right, panel_height - top - bottom)
        pygame.draw.rect(surface, (70, 70, 80), box, 1)
        values = [float(row[k]) for row in history for k, _ in keys
                  if k in row and math.isfinite(float(row[k]))]
        lo, hi = (min(values), max(values)) if values else (0.0, 1.0)
        if hi - lo < 1e-9:
            lo, hi = lo - 0.5, hi + 0.5
        surface.blit(font.render(title, True, (220, 220, 220)), (left, y0 + 4))
        surface.blit(font.render(f"{hi:.3g}", True, (160, 160, 160)), (4, box.top))
        surface.blit(font.render(f"{lo:.3g}", True, (160, 160, 160)), (4, box.bottom - 12))
        surface.blit(font.render(f"kimg {x_lo:.3g}", True, (160, 160, 160)),
                     (left, box.bottom + 4))
        label = font.render(f"{x_hi:.4g}", True, (160, 160, 160))
        surface.blit(label, (box.right - label.get_width(), box.bottom + 4))
        legend_x = left + 260
        for key, colour in keys:
            pts = [(box.left + (float(r["kimg"]) - x_lo) / (x_hi - x_lo) * box.width,
                    box.bottom - (float(r[key]) - lo) / (hi - lo) * box.height)
                   for r in history if key in r and math.isfinite(float(r[key]))]
            if len(pts) >= 2:
                pygame.draw.lines(surface, colour, False, pts, 2)
            elif len(pts) == 1:
                pygame.draw.circle(surface, colour, (int(pts[0][0]), int(pts[0][1])), 3)
            text = font.render(key, True, colour)
            surface.blit(text, (legend_x, y0 + 4))
            legend_x += text.get_width() + 16
    pixels = pygame.surfarray.array3d(surface).transpose(1, 0, 2)
    return write_png(path, np.ascontiguousarray(pixels))
