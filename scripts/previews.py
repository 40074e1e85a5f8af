"""Previews of the gallery patches: a few seconds of each, rendered by `livegan render`, as
animated WebP files in patches/previews/ (what the README's gallery shows).

    .venv/bin/python scripts/previews.py                 # every gallery patch that exists
    .venv/bin/python scripts/previews.py sg3 feedback    # just these
    .venv/bin/python scripts/previews.py --seconds 6 --width 320

Each patch is rendered offline exactly as a user would (`livegan render PATCH --out ...`), so a
preview is deterministic and shows what the patch itself does; a patch that is not there yet
(each lands with its own issue) is listed as missing, and one that fails to render is reported
with the command's last words, and the others go on. The audio-reactive patch is rendered to a
drum loop the script synthesises (kick, snare, hats at 120 bpm: `--audio`), so its preview
moves with a beat. Frames are decoded with PyAV and written with Pillow; the WebP loops forever.
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
SONG_FOR = {"audio"}   # patches previewed to the synthesised drum loop
SAMPLE_RATE = 48000


def drum_loop(path: Path, seconds: float, bpm: float = 120.0) -> Path:
    """A mono 16-bit WAV of kick (beats 1, 3), snare (2, 4) and eighth-note hats at `bpm`."""
    import wave

    import numpy as np

    rng = np.random.default_rng(0)
    song = np.zeros(int(seconds * SAMPLE_RATE), np.float32)
    beat = 60.0 / bpm
    t = np.arange(int(0.25 * SAMPLE_RATE)) / SAMPLE_RATE
    kick = np.sin(2 * np.pi * (50 + 100 * np.exp(-t * 30)) * t) * np.exp(-t * 12)
    snare = rng.normal(0, 0.5, t.size) * np.exp(-t * 25)
    hat = rng.normal(0, 0.2, t.size) * np.exp(-t * 90)
    for index in range(int(seconds / (beat / 2))):
        start = int(index * beat / 2 * SAMPLE_RATE)
        hits = [hat] + ([kick] if index % 4 == 0 else [snare] if index % 4 == 2 else [])
        for hit in hits:
            end = min(start + hit.size, song.size)
            song[start:end] += hit[:end - start]
    pcm = (np.clip(song, -1, 1) * 32767 * 0.8).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(pcm.tobytes())
    return path


def render(patch: Path, video: Path, seconds: float, size: tuple[int, int], fps: float,
           song: Path | None = None) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "liveGAN.cli", "render", str(patch), "--out", str(video),
               "--duration", f"{seconds:g}", "--size", f"{size[0]}x{size[1]}",
               "--fps", f"{fps:g}"] + (["--audio", str(song)] if song is not None else [])
    return subprocess.run(command, capture_output=True, text=True, cwd=ROOT)


def preview_size(patch: Path, width: int) -> tuple[int, int]:
    """`width` wide (even), as high as the patch's output aspect makes it (even, at least 2)."""
    from liveGAN.patch import read_patch

    found, _ = read_patch(patch)
    out_w, out_h = found.size if found is not None else (16, 9)
    return width // 2 * 2, max(2, round(width * out_h / out_w) // 2 * 2)


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
    parser.add_argument("--width", type=int, default=288,
                        help="width in pixels; the height keeps the patch's own aspect")
    parser.add_argument("--fps", type=float, default=12.0)
    parser.add_argument("--quality", type=int, default=70, help="WebP quality 0-100")
    parser.add_argument("--out", type=Path, default=PREVIEWS, help="folder for the previews")
    args = parser.parse_args(argv)
    names = args.names or list(GALLERY)
    unknown = [n for n in names if n not in GALLERY]
    if unknown:
        parser.error(f"not in the gallery: {', '.join(unknown)} (known: {', '.join(GALLERY)})")
    failed = 0
    with tempfile.TemporaryDirectory(prefix="livegan-previews-") as scratch:
        for name in names:
            patch = PATCHES / f"{name}.toml"
            if not patch.is_file():
                print(f"{name}: missing (patches/{name}.toml has not landed yet)")
                continue
            video = Path(scratch) / f"{name}.mkv"
            song = drum_loop(Path(scratch) / "drums.wav", args.seconds) if name in SONG_FOR \
                else None
            done = render(patch, video, args.seconds, preview_size(patch, args.width), args.fps,
                          song)
            if done.returncode != 0:
                failed += 1
                last = (done.stderr or done.stdout).strip().splitlines()[-3:]
                print(f"{name}: render failed: {' / '.join(last)}")
                continue
            out = args.out / f"{name}.webp"
            count = write_webp(video, out, args.fps, args.quality)
            print(f"{name}: {count} frames -> {out} ({out.stat().st_size // 1024} KB)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
