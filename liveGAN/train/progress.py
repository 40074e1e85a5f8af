"""What the user sees while training runs: a tqdm progress line, and a word when the CPU is
oversubscribed.

Place in the data flow: training loop (kimg, images/s, losses, aug p, the last metrics row)
-> **progress** -> stderr.
"""
from __future__ import annotations

import math
import os
import sys
import time


class Progress:
    """tqdm's bar over kimg, with images/s, losses, aug p and the latest variety figures after
    it. On a terminal it is redrawn in place (at most twice a second); into a log file it
    writes one plain line every 30 s. tqdm's clock has no 24-hour wrap (a two-day ETA reads
    48:00:00)."""

    BAR = "kimg {n:.3f}/{total:g} |{bar:16}| {elapsed}<{remaining}{postfix}"

    def __init__(self, enabled: bool, total_kimg: float, stream=None,
                 start_kimg: float = 0.0) -> None:
        from tqdm import tqdm

        self.enabled, self.total = enabled, total_kimg
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.variety = ""
        self.last = 0.0
        self.start = time.monotonic()
        self.start_kimg = start_kimg
        self.bar = tqdm(total=total_kimg, initial=start_kimg, file=self.stream,
                        bar_format=self.BAR, mininterval=0.5, dynamic_ncols=True,
                        disable=not (enabled and self.tty), leave=True)

    def set_metrics(self, row: dict) -> None:
        """Remember the latest coverage/diversity/judge figures for the line."""
        parts = []
        if "coverage" in row:
            parts.append(f"cov {row['coverage']:.2f} div {row['diversity']:.2f}")
        if "classes" in row:
            parts.append(f"classes {row['classes']}" + (f"/{row['num_classes']}"
                                                       if "num_classes" in row else ""))
        self.variety = " | ".join(parts)

    def postfix(self, rate: float, losses: dict, p: float) -> str:
        text = (f"{rate:.1f} img/s | G {losses.get('loss_G', float('nan')):.3f} "
                f"D {losses.get('loss_D', float('nan')):.3f} | aug p {p:.3f}")
        return text + (f" | {self.variety}" if self.variety else "")

    def line(self, kimg: float, rate: float, losses: dict, p: float) -> str:
        """The line as it reads in a log file (tqdm's own format, without a bar)."""
        from tqdm import tqdm

        elapsed = time.monotonic() - self.start
        kimg_rate = rate / 1000 if rate > 0 else None
        return tqdm.format_meter(kimg, self.total, elapsed, rate=kimg_rate,
                                 bar_format=self.BAR.replace("|{bar:16}| ", ""),
                                 postfix=self.postfix(rate, losses, p), initial=self.start_kimg)

    def update(self, kimg: float, rate: float, losses: dict, p: float, force=False) -> None:
        if not self.enabled:
            return
        if self.tty:
            self.bar.set_postfix_str(self.postfix(rate, losses, p), refresh=False)
            self.bar.update(kimg - self.bar.n)
            if force:
                self.bar.refresh()
            return
        now = time.monotonic()
        if not force and now - self.last < 30:
            return
        self.last = now
        print(self.line(kimg, rate, losses, p), file=self.stream, flush=True)

    def message(self, text: str) -> None:
        """A line of its own (a warning), without breaking the redrawn progress line."""
        if self.enabled and self.tty:
            self.bar.write(text, file=self.stream)
        else:
            print(text, file=self.stream, flush=True)

    def close(self) -> None:
        self.bar.close()


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
