"""Previews of the gallery patches: a few seconds of each, rendered by `livegan render`, as
animated WebP files in patches/previews/ (what the README's gallery shows).

    .venv/bin/python scripts/previews.py                 # every gallery patch that exists
    .venv/bin/python scripts/previews.py sg3 feedback    # just these
    .venv/bin/python scripts/previews.py --seconds 6 --width 320

Each patch is rendered offline exactly as a user would (`livegan render PATCH --out ...`), so a
preview is deterministic and shows what the patch itself does; a patch that is not there yet
(each lands with its own issue) is listed as missing, and one that fails to render is reported
with the command's last words, and the others go on. Frames are decoded with PyAV and written
with Pillow; the WebP loops forever.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PATCHES = ROOT / "patches"
PREVIEWS = PATCHES / "previews"
# The gallery, in the order the README shows it: patch name -> what it shows.
GALLERY = {
    "default": "the default show: the shipped model on a slow walk, trails, kaleidoscope, "
               "auto-exposure",
    "audio": "audio-reactive: the walk, the trails and the glow follow the music",
    "midi": "a MIDI controller: faders and knobs on the walk and the effects",
    "projection": "projection: two outputs, one keystoned onto a wall",
    "sg3": "StyleGAN3: the picture panned, turned and zoomed while the walk goes on",
    "feedback": "a feedback-heavy look: the picture falls into its own trails",
    "trained": "a model made by `livegan train`, played as it comes out of training",
}


def render(patch: Path, video: Path, seconds: float, size: tuple[int, int], fps: float
           ) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "liveGAN.cli", "render", str(patch), "--out", str(video),
               "--duration", f"{seconds:g}", "--size", f"{size[0]}x{size[1]}",
               "--fps", f"{fps:g}"]
    return subprocess.run(command, capture_output=True, text=True, cwd=ROOT)


def write_webp(video: Path, out: Path, fps: float, quality: int) -> int:
    """The frames of `video` as a looping animated WebP at `out`; returns the frame count."""
    import av
    from PIL import Image

    with av.open(str(video)) as container:
        frames = [Image.fromarray(f.to_ndarray(format="rgb24"))
                  for f in container.decode(video=0)]
    if not frames:
        raise RuntimeError(f"{video} has no frames")
    out.parent.mkdir(parents=True, exist_ok=True)
    frames[0].save(out, format="WEBP", save_all=True, append_images=frames[1:],
                   duration=round(1000 / fps), loop=0, quality=quality, method=4)
    return len(frames)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="gallery patches to preview (default: all)")
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--width", type=int, default=288, help="height follows 16:9")
    parser.add_argument("--fps", type=float, default=12.0)
    parser.add_argument("--quality", type=int, default=70, help="WebP quality 0-100")
    args = parser.parse_args(argv)
    names = args.names or list(GALLERY)
    unknown = [n for n in names if n not in GALLERY]
    if unknown:
        parser.error(f"not in the gallery: {', '.join(unknown)} (known: {', '.join(GALLERY)})")
    size = (args.width // 2 * 2, round(args.width * 9 / 16) // 2 * 2)
    failed = 0
    with tempfile.TemporaryDirectory(prefix="livegan-previews-") as scratch:
        for name in names:
            patch = PATCHES / f"{name}.toml"
            if not patch.is_file():
                print(f"{name}: missing ({patch.relative_to(ROOT)} has not landed yet)")
                continue
            video = Path(scratch) / f"{name}.mkv"
            done = render(patch, video, args.seconds, size, args.fps)
            if done.returncode != 0:
                failed += 1
                last = (done.stderr or done.stdout).strip().splitlines()[-3:]
                print(f"{name}: render failed: {' / '.join(last)}")
                continue
            out = PREVIEWS / f"{name}.webp"
            count = write_webp(video, out, args.fps, args.quality)
            print(f"{name}: {count} frames -> {out.relative_to(ROOT)} "
                  f"({out.stat().st_size // 1024} KB)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
