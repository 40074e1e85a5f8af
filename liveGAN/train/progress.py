"""What the user sees while training runs: one progress line, and a word when the CPU is
oversubscribed.

Place in the data flow: training loop (kimg, images/s, losses, aug p, the last metrics row)
-> **progress** -> stderr.
"""
from __future__ import annotations

import math
import os
import sys
import time


def format_eta(seconds: float) -> str:
    """'H:MM:SS' below a day, 'Dd HH:MM:SS' from one day on; '--' when unknown."""
    if not math.isfinite(seconds) or seconds < 0:
        return "--"
    total = int(round(seconds))
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    clock = f"{hours:02d}:{minutes:02d}:{secs:02d}"
    return f"{days}d {clock}" if days else f"{hours}:{minutes:02d}:{secs:02d}"


class Progress:
    """One terminal line, redrawn at most twice a second (every 30 s into a log file): kimg,
    images/s, ETA, losses, aug p and the latest variety figures."""

    def __init__(self, enabled: bool, total_kimg: float, stream=None) -> None:
        self.enabled, self.total = enabled, total_kimg
        self.stream = stream or sys.stderr
        self.last = 0.0
        self.tty = self.stream.isatty()
        self.variety = ""

    def set_metrics(self, row: dict) -> None:
        """Remember the latest coverage/diversity/judge figures for the line."""
        parts = []
        if "coverage" in row:
            parts.append(f"cov {row['coverage']:.2f} div {row['diversity']:.2f}")
        if "classes" in row:
            parts.append(f"classes {row['classes']}" + (f"/{row['num_classes']}"
                                                       if "num_classes" in row else ""))
        self.variety = " | ".join(parts)

    def line(self, kimg: float, rate: float, losses: dict, p: float) -> str:
        eta = (self.total - kimg) * 1000 / rate if rate > 0 else float("inf")
        text = (f"kimg {kimg:8.3f}/{self.total:g} | {rate:6.1f} img/s | ETA {format_eta(eta)} | "
                f"G {losses.get('loss_G', float('nan')):.3f} "
                f"D {losses.get('loss_D', float('nan')):.3f} | aug p {p:.3f}")
        return text + (f" | {self.variety}" if self.variety else "")

    def update(self, kimg: float, rate: float, losses: dict, p: float, force=False) -> None:
        now = time.monotonic()
        if not self.enabled or (not force and now - self.last < (0.5 if self.tty else 30)):
            return
        self.last = now
        text = self.line(kimg, rate, losses, p)
        # On a terminal the line is redrawn in place; in a log file each update is its own line.
        print(("\r" + text + "   ") if self.tty else text, end="" if self.tty else "\n",
              file=self.stream, flush=True)

    def message(self, text: str) -> None:
        """A line of its own (a warning), without breaking the redrawn progress line."""
        prefix = "\n" if self.enabled and self.tty else ""
        print(prefix + text, file=self.stream, flush=True)

    def close(self) -> None:
        if self.enabled and self.tty:
            print(file=self.stream, flush=True)


class ThroughputWatch:
    """Notices when images/s collapses (other programs taking the CPU) and says what to do.

    Training time is measured in windows of `window` seconds (tick work such as metrics and
    checkpoints is left out: call `skip()` after it). The best of the first windows is the
    reference; a window below `ratio` of it, twice in a row, gives one warning (and another at
    most every `repeat` seconds), which names the load average, the cores and torch's threads.
    """

    def __init__(self, window: float = 20.0, ratio: float = 0.4, repeat: float = 600.0,
                 clock=time.monotonic, load=os.getloadavg, cores=None, threads=None) -> None:
        self.window, self.ratio, self.repeat = window, ratio, repeat
        self.clock, self.load = clock, load
        self.cores = cores or os.cpu_count() or 1
        self.threads = threads
        self.reference = 0.0
        self.windows = 0
        self.slow = 0
        self.last_warning = -math.inf
        self.start_time = None
        self.start_nimg = 0

    def skip(self, nimg: int) -> None:
        """Start a new window at `nimg` (after work that is not training)."""
        self.start_time, self.start_nimg = self.clock(), nimg

    def step(self, nimg: int) -> str | None:
        """Feed the image count after a training step; returns a warning line or None."""
        now = self.clock()
        if self.start_time is None:
            self.skip(nimg)
            return None
        elapsed = now - self.start_time
        if elapsed < self.window:
            return None
        rate = (nimg - self.start_nimg) / elapsed
        self.skip(nimg)
        self.windows += 1
        if self.windows <= 1:
            return None                 # the first window includes warm-up
        if self.windows <= 4 or rate > self.reference:
            self.reference = max(self.reference, rate)
            self.slow = 0
            return None
        self.slow = self.slow + 1 if rate < self.ratio * self.reference else 0
        if self.slow < 2 or now - self.last_warning < self.repeat:
            return None
        self.last_warning = now
        return self.advice(rate)

    def advice(self, rate: float) -> str:
        import torch

        threads = self.threads or torch.get_num_threads()
        try:
            load = self.load()[0]
        except OSError:
            load = float("nan")
        text = (f"warning: training slowed from {self.reference:.1f} to {rate:.1f} images/s; "
                f"load average {load:.1f} on {self.cores} cores, torch uses {threads} "
                f"thread(s)")
        if load > self.cores:
            text += ": the CPU is oversubscribed. Stop or pause other jobs (or run them with nice)"
            if threads > 1:
                text += (", or give this run one thread (--threads 1, OMP_NUM_THREADS=1): "
                         "torch's spinning threads slow down most when cores are shared")
        else:
            text += ": something else is slowing it (thermal throttling, swapping, disk)"
        return text
