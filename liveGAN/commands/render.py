"""`livegan render PATCH --out FILE`: render a patch offline, deterministically, to a video.

`livegan render --replay LOG --out FILE` renders a recorded performance again (the log a live
show writes beside its recording, `show.livegan.jsonl.gz`): the same events, edits, seeds and
frame times, at any size (`--size`) and, with `--fps`, on a regular frame grid.

`livegan render PATCH --audio SONG --out FILE` renders to a song (WAV, FLAC, MP3, OGG, ...): the
song is analysed first, as the patch's audio input would hear it, each video frame gets that
moment's `audio/...` params, and the song is the video's sound track. The length is the song's
unless `--frames` or `--duration` says otherwise.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from liveGAN.commands.common import add_patch_argument, parse_size, resolve_patch


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_patch_argument(parser)
    parser.add_argument("--out", type=Path, required=True, help="video file (.mp4 or .mkv)")
    parser.add_argument("--audio", type=Path, metavar="SONG",
                        help="render to a song: its sound drives the patch's audio/... params "
                             "and is the video's sound track (length: the song's)")
    parser.add_argument("--replay", type=Path, metavar="LOG",
                        help="render the performance log of a recorded live show "
                             "(PATCH, --frames and --duration come from the log)")
    length = parser.add_mutually_exclusive_group()
    length.add_argument("--frames", type=int, help="number of frames")
    length.add_argument("--duration", type=float, help="length in seconds")
    parser.add_argument("--size", type=parse_size, help="output size WxH")
    parser.add_argument("--fps", type=float,
                        help="frame rate (patch: output.fps; a replay: the recorded frame times)")
    parser.add_argument("--seed", type=int, help="seed of the latent walk")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"))


def run(args: argparse.Namespace) -> int:
    from liveGAN.commands.run import play
    from liveGAN.show.options import RunOptions

    if args.replay is not None:
        if args.audio is not None:
            print("render: --replay plays the sound the live show heard; leave out --audio",
                  file=sys.stderr)
            return 2
        return replay(args)
    song = None
    if args.audio is not None:
        song = analyse_song(args)
        if isinstance(song, int):
            return song
    frames = args.frames
    if song is not None and args.frames is None and args.duration is None:
        frames = song.frames
    if frames is None and args.duration is None:
        print("render: give the length with --frames N or --duration SECONDS "
              "(or --audio SONG, or --replay LOG)", file=sys.stderr)
        return 2
    options = RunOptions(headless=True, offline=True, frames=frames,
                         duration=args.duration, size=args.size, fps=args.fps,
                         record=args.out, no_osc=True, seed=args.seed, device=args.device,
                         watch=False, progress=True, audio=song)
    return play(resolve_patch(args.patch), options)


def analyse_song(args: argparse.Namespace):
    """The song of `--audio`, analysed at the render's frame rate with the patch's audio
    input's settings (a SongFeed); or the exit code after saying why it can't be."""
    from liveGAN.audio.decode import AudioFileError
    from liveGAN.audio.offline import analyse_file
    from liveGAN.patch import PatchError, load_patch
    from liveGAN.sources.audio import SongFeed, patch_audio_config

    try:
        patch = load_patch(resolve_patch(args.patch))
        config = patch_audio_config(patch)
    except (PatchError, ValueError) as err:
        print(f"patch has errors:\n{err}", file=sys.stderr)
        return 1
    fps = args.fps or patch.fps
    print(f"analysing {args.audio} ...", flush=True)
    try:
        analysis = analyse_file(args.audio, fps, config)
    except (AudioFileError, ValueError) as err:
        print(f"render --audio: {err}", file=sys.stderr)
        return 1
    tempo = f"{analysis.bpm:.1f} BPM" if analysis.bpm > 0 else "no steady beat"
    print(f"{args.audio}: {analysis.duration:.2f} s, {tempo}, {len(analysis.onsets)} onsets, "
          f"{analysis.frames} frames at {fps:g} fps", flush=True)
    return SongFeed(analysis, args.audio)


def replay(args: argparse.Namespace) -> int:
    """Render the performance log `args.replay`; says whether every frame matched."""
    from liveGAN.commands.run import play
    from liveGAN.patch import PatchError
    from liveGAN.show.performance import LogError, Replay

    if args.patch is not None or args.frames is not None or args.duration is not None \
            or args.seed is not None:
        print("render --replay: the patch, length and seed come from the log; leave out "
              "PATCH, --frames, --duration and --seed", file=sys.stderr)
        return 2
    if args.fps is not None and not 0 < args.fps <= 1000:
        print(f"render --replay: --fps must be in 0..1000, not {args.fps:g}", file=sys.stderr)
        return 2
    try:
        performance = Replay(args.replay, fps=args.fps)
        patch = performance.patch()
    except (LogError, PatchError) as err:
        print(f"cannot replay {args.replay}:\n{err}", file=sys.stderr)
        return 1
    try:
        if not performance.performance.complete:
            print(f"{args.replay}: the log was cut off (the show did not end cleanly); "
                  f"replaying its {performance.frames} frames", flush=True)
        options = performance.options(size=args.size, record=args.out, device=args.device,
                                      progress=True)
        code = play(patch, options)
        if code == 0:
            print(performance.summary(), flush=True)
        return code
    finally:
        performance.close()
