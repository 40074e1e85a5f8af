"""Helpers shared by the benchmark scripts: temporary patches and percentile tables."""
from __future__ import annotations

import statistics
import tempfile
from pathlib import Path


def write_patch(body: str) -> Path:
    folder = Path(tempfile.mkdtemp(prefix="livegan-bench-"))
    path = folder / "bench.toml"
    path.write_text(body)
    return path


def percentiles(samples_s: list[float]) -> dict[str, float]:
    """Median, p10, p90, p99 and max of durations given in seconds, in milliseconds."""
    ms = sorted(1000.0 * s for s in samples_s)
    if not ms:
        return {}
    def q(p: float) -> float:
        return ms[min(len(ms) - 1, int(p * (len(ms) - 1) + 0.5))]
    return {"p50": statistics.median(ms), "p10": q(0.10), "p90": q(0.90), "p99": q(0.99),
            "max": ms[-1]}


def row(name: str, stats: dict[str, float], extra: str = "") -> str:
    return (f"| {name} | {stats['p50']:.2f} | {stats['p10']:.2f} | {stats['p90']:.2f} | "
            f"{stats['p99']:.2f} | {stats['max']:.2f} | {extra} |")
