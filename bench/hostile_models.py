"""Benchmark: how long a hostile model file takes to fail, and how much memory it takes first.

Place in the data flow: model file -> **formats** (liveGAN.models.load_generator). Issue 9's
target: any single hostile file fails within 1 s and 100 MB of extra memory, with one line
naming the file. Each kind of file is tried in a fresh process after a real model was loaded
(so the code is imported and warm); the peak memory of that process is read before and after.

    .venv/bin/python bench/hostile_models.py [--repeat 3]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REAL = ROOT / "tests" / "fixtures" / "stylegan" / "sg2-tiny.safetensors"
BASE = {"z_dim": 512, "c_dim": 0, "w_dim": 512, "img_resolution": 256, "img_channels": 3}

PROBE = textwrap.dedent("""
    import json, resource, sys, time
    from liveGAN.models import ModelLoadError, load_generator
    load_generator(sys.argv[1])
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    try:
        load_generator(sys.argv[2])
        error = None
    except ModelLoadError as err:
        error = str(err)
    print(json.dumps({"seconds": time.perf_counter() - started, "error": error,
                      "extra_mb": (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base)
                      / 1024}))
""")


def long1(n: int) -> bytes:
    data = n.to_bytes((n.bit_length() + 8) // 8, "little", signed=True)
    return b"\x8a" + bytes([len(data)]) + data


def make(folder: Path) -> dict[str, Path]:
    import torch
    from safetensors.torch import save_file

    files = {}

    def native(name: str, kwargs: dict, architecture: str = "stylegan2") -> None:
        header = {"format": 1, "architecture": architecture, "init_kwargs": kwargs}
        save_file({"x": torch.zeros(1)}, str(folder / name),
                  metadata={"livegan": json.dumps(header)})
        files[name] = folder / name

    native("resolution-16384.safetensors", {**BASE, "img_resolution": 16384})
    native("z_dim-1e6.safetensors", {**BASE, "z_dim": 10**6})
    native("channels-2048.safetensors", {**BASE, "img_resolution": 1024,
                                         "channel_base": 2048 * 1024, "channel_max": 2048})
    native("sg3-16384.safetensors", {**BASE, "img_resolution": 16384}, "stylegan3")
    native("light-4096.safetensors", {"z_dim": 10**6, "img_resolution": 4096}, "light")
    pickles = {
        "bytearray-3e9.pkl": b"cbuiltins\nbytearray\n" + long1(3_000_000_000) + b"\x85R",
        "ndarray-60000x60000.pkl": b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\n"
                                   + long1(60000) + long1(60000) + b"\x86U\x01b\x87R",
        "binbytes-3e9.pkl": b"\x8e" + (3_000_000_000).to_bytes(8, "little"),
    }
    for name, body in pickles.items():
        (folder / name).write_bytes(b"\x80\x02" + body + b".")
        files[name] = folder / name
    return files


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print("| file | bytes | seconds to the error (median, min-max) | extra MB (max) | error |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as folder:
        for name, path in make(Path(folder)).items():
            runs = []
            for _ in range(args.repeat):
                out = subprocess.run([sys.executable, "-c", PROBE, str(REAL), str(path)],
                                     capture_output=True, text=True, cwd=ROOT, timeout=600)
                runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
            seconds = [r["seconds"] for r in runs]
            error = (runs[0]["error"] or "LOADED").replace(str(path), name)
            print(f"| {name} | {path.stat().st_size} | {statistics.median(seconds):.3f} "
                  f"({min(seconds):.3f}-{max(seconds):.3f}) | "
                  f"{max(r['extra_mb'] for r in runs):.0f} | {error[:110]} |")
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
