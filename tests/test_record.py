"""The recorder writes real files through PyAV, and they are decoded back with PyAV."""
from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import textwrap
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from liveGAN.sinks.record import Recorder, RecorderError

# Saturated, well separated colours survive yuv420p + CRF with a few levels of error.
PALETTE = np.array([
    (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0),
    (0, 255, 255), (255, 0, 255), (255, 255, 255), (0, 0, 0),
], dtype=np.uint8)
TOLERANCE = 12


def solid_frame(index: int, width: int, height: int, channels: int = 3) -> np.ndarray:
    frame = np.empty((height, width, channels), np.uint8)
    frame[..., :3] = PALETTE[index % len(PALETTE)]
    if channels == 4:
        frame[..., 3] = 255
    return frame


def decode(path: Path) -> tuple[list[int], list[np.ndarray], tuple[int, int], Fraction]:
    """Frame indices (from pts), RGB images, (width, height) and frame rate of a video file."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate
        indices, images = [], []
        for frame in container.decode(stream):
            indices.append(round(frame.pts * frame.time_base * rate))
            images.append(frame.to_ndarray(format="rgb24"))
        return indices, images, (stream.width, stream.height), rate


def timed(path: Path, fps: float) -> tuple[list[int], list[np.ndarray]]:
    """Frame slots (show time x fps) and RGB images of a video whose frames come when they
    came (a live show's)."""
    with av.open(str(path)) as container:
        frames = list(container.decode(video=0))
    return ([round(f.time * fps) for f in frames], [f.to_ndarray(format="rgb24") for f in frames])


def assert_colours(indices: list[int], images: list[np.ndarray]) -> None:
    for index, image in zip(indices, images):
        expected = PALETTE[index % len(PALETTE)].astype(int)
        centre = image[image.shape[0] // 2, image.shape[1] // 2].astype(int)
        assert np.abs(centre - expected).max() <= TOLERANCE, (index, centre, expected)


@pytest.mark.parametrize("suffix, channels", [(".mp4", 3), (".mkv", 4)])
def test_close_gives_every_frame_right_size_and_colour(tmp_path, suffix, channels):
    path = tmp_path / f"show{suffix}"
    messages: list[str] = []
    recorder = Recorder(path, (96, 64), fps=25, log=messages.append, queue_frames=64)
    for i in range(40):
        recorder.write(solid_frame(i, 96, 64, channels))
    recorder.close()
    recorder.close()  # idempotent
    assert recorder.frames_dropped == 0 and recorder.frames_written == 40
    assert recorder.path == path and path.exists()
    assert not (tmp_path / f"show.partial{suffix}").exists()
    indices, images, size, rate = decode(path)
    assert len(images) == 40 and indices == list(range(40))
    assert size == (96, 64) and rate == 25
    assert_colours(indices, images)


def test_frames_are_top_row_first(tmp_path):
    path = tmp_path / "rows.mp4"
    frame = np.zeros((64, 64, 3), np.uint8)
    frame[:32] = (255, 255, 255)  # white top half
    with Recorder(path, (64, 64), fps=30, log=lambda m: None) as recorder:
        recorder.write(frame)
    _, images, _, _ = decode(path)
    assert images[0][8, 32].min() > 240 and images[0][56, 32].max() < 15


def test_odd_size_is_padded_and_said_once(tmp_path):
    path = tmp_path / "odd.mp4"
    messages: list[str] = []
    with Recorder(path, (65, 33), fps=30, log=messages.append) as recorder:
        for i in range(3):
            recorder.write(solid_frame(i, 65, 33))
    assert sum("is odd" in m for m in messages) == 1
    indices, images, size, _ = decode(path)
    assert size == (66, 34) and len(images) == 3
    assert_colours(indices, images)
    # the padding copies the edge, so the extra column has the frame's colour
    assert np.abs(images[0][16, 65].astype(int) - PALETTE[0]).max() <= TOLERANCE


def test_fractional_rate_is_kept(tmp_path):
    path = tmp_path / "ntsc.mkv"
    with Recorder(path, (32, 32), fps=30000 / 1001, log=lambda m: None) as recorder:
        for i in range(5):
            recorder.write(solid_frame(i, 32, 32))
    indices, _, _, rate = decode(path)
    assert rate == Fraction(30000, 1001) and indices == list(range(5))


def test_bad_paths_and_settings_are_refused_clearly(tmp_path):
    with pytest.raises(RecorderError, match="does not exist"):
        Recorder(tmp_path / "nowhere" / "show.mp4", (32, 32), fps=30, log=lambda m: None)
    with pytest.raises(RecorderError, match="unsupported file type '.avi'"):
        Recorder(tmp_path / "show.avi", (32, 32), fps=30, log=lambda m: None)
    with pytest.raises(RecorderError, match="codec 'no-such-codec'"):
        Recorder(tmp_path / "show.mp4", (32, 32), fps=30, codec="no-such-codec",
                 log=lambda m: None)
    with pytest.raises(RecorderError, match="quality"):
        Recorder(tmp_path / "show.mp4", (32, 32), fps=30, quality=99, log=lambda m: None)
    assert list(tmp_path.iterdir()) == []  # nothing left behind by refused recordings


def test_existing_recordings_are_never_lost(tmp_path):
    path = tmp_path / "show.mp4"
    path.write_bytes(b"last night's show")
    with pytest.raises(RecorderError, match="exists"):
        Recorder(path, (32, 32), fps=30, log=lambda m: None)
    assert path.read_bytes() == b"last night's show"

    # A .partial file left by a killed show is not written over either.
    leftover = tmp_path / "other.partial.mp4"
    leftover.write_bytes(b"salvage me")
    recorder = Recorder(tmp_path / "other.mp4", (32, 32), fps=30, log=lambda m: None)
    assert recorder.partial_path == tmp_path / "other.partial-1.mp4"
    recorder.write(solid_frame(0, 32, 32))
    recorder.close()
    assert leftover.read_bytes() == b"salvage me"
    assert len(decode(tmp_path / "other.mp4")[1]) == 1

    # overwrite=True replaces the old file, but only once the new one is finished.
    recorder = Recorder(path, (32, 32), fps=30, log=lambda m: None, overwrite=True)
    recorder.write(solid_frame(2, 32, 32))
    assert path.read_bytes() == b"last night's show"
    recorder.close()
    _, images, _, _ = decode(path)
    assert len(images) == 1
    assert np.abs(images[0][16, 16].astype(int) - PALETTE[2]).max() <= TOLERANCE


def test_a_file_that_appears_at_the_target_during_the_recording_is_kept(tmp_path):
    target = tmp_path / "show.mp4"
    recorder = Recorder(target, (32, 32), fps=30, log=lambda m: None)
    recorder.write(solid_frame(0, 32, 32), block=True)
    target.write_bytes(b"copied here meanwhile")  # another program, or the user, saved a file
    recorder.close()
    assert target.read_bytes() == b"copied here meanwhile"
    assert recorder.path == tmp_path / "show-1.mp4"
    indices, images, _, _ = decode(recorder.path)
    assert indices == [0]
    assert_colours(indices, images)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["show-1.mp4", "show.mp4"]


def test_a_dangling_symlink_at_the_record_path_is_not_replaced(tmp_path):
    from liveGAN.sinks.record import RecordSink

    target = tmp_path / "show.mp4"
    target.symlink_to(tmp_path / "elsewhere" / "show.mp4")  # points nowhere (yet)
    with pytest.raises(RecorderError, match="exists"):
        Recorder(target, (32, 32), fps=30, log=lambda m: None)
    sink = RecordSink({"path": str(target)})
    sink.log = lambda m: None
    sink.open((32, 32), 30.0)
    sink.recorder.write(solid_frame(2, 32, 32), block=True)
    sink.close()
    assert target.is_symlink() and os.readlink(target) == str(tmp_path / "elsewhere" / "show.mp4")
    assert sink.path == tmp_path / "show-1.mp4"
    assert len(decode(sink.path)[1]) == 1


def test_the_sink_places_each_frame_at_its_show_time_and_encodes_it_once(tmp_path):
    from liveGAN.show.sinks import OutputFrame
    from liveGAN.sinks.record import RecordSink

    sink = RecordSink({"path": str(tmp_path / "show.mp4")})
    sink.log = lambda m: None
    sink.open((32, 32), 30.0)
    # A live show whose frames 2-4 came late: frame 2 at 5/30 s, then on time again.
    times = [0, 1 / 30, 5 / 30, 6 / 30, 7 / 30, 40 / 30]
    for index, t in enumerate(times):
        sink.send(OutputFrame(index, t, (32, 32), True, pixels=solid_frame(index, 32, 32)))
    sink.close()
    assert sink.recorder.frames_written == len(times) and sink.recorder.frames_dropped == 0
    indices, images = timed(sink.path, 30)
    assert indices == [0, 1, 5, 6, 7, 40]  # every frame at its time: the video lasts the show
    for index, image in enumerate(images):
        expected = PALETTE[index % len(PALETTE)].astype(int)
        assert np.abs(image[16, 16].astype(int) - expected).max() <= TOLERANCE
    # A keyframe at least every second of video time, however few frames come (a still
    # picture: the encoder itself would make none).
    sink = RecordSink({"path": str(tmp_path / "still.mp4")})
    sink.log = lambda m: None
    sink.open((32, 32), 30.0)
    times = [0, 0.5, 0.9, 1.2, 1.3, 3.5, 3.6]
    for index, t in enumerate(times):
        sink.send(OutputFrame(index, t, (32, 32), True, pixels=solid_frame(3, 32, 32)))
    sink.close()
    with av.open(str(sink.path)) as container:
        keys = [round(float(p.pts * p.time_base), 2) for p in container.demux(video=0)
                if p.is_keyframe and p.pts is not None]
    assert keys == [0.0, 1.2, 3.5]


def test_a_lower_recording_rate_keeps_one_frame_per_slot(tmp_path):
    from liveGAN.show.sinks import OutputFrame
    from liveGAN.sinks.record import RecordSink

    sink = RecordSink({"path": str(tmp_path / "show.mkv"), "fps": 10})
    sink.log = lambda m: None
    sink.open((32, 32), 60.0)
    for index in range(60):  # one second of a 60 fps show
        sink.send(OutputFrame(index, index / 60, (32, 32), False,
                              pixels=solid_frame(index // 6, 32, 32)))
    sink.close()
    indices, images = timed(sink.path, 10)
    # One frame for each tenth of a second the show lasted (0 .. 1.0 s), none twice.
    assert indices == list(range(11)) and sink.recorder.frames_written == 11
    sent = {tuple(PALETTE[i % len(PALETTE)]) for i in range(10)}
    assert all(min(np.abs(image[16, 16].astype(int) - np.array(c)).max() for c in sent)
               <= TOLERANCE for image in images)
    with pytest.raises(RecorderError, match="fps"):
        RecordSink({"path": str(tmp_path / "x.mp4"), "fps": float("nan")})


def test_wrong_frames_and_a_slow_encoder_drop_without_blocking(tmp_path):
    path = tmp_path / "busy.mp4"
    messages: list[str] = []
    recorder = Recorder(path, (640, 480), fps=30, log=messages.append, queue_frames=1)
    recorder.write(np.zeros((10, 10, 3), np.uint8))
    recorder.write(np.zeros((480, 640, 3), np.float32))
    assert recorder.frames_dropped == 2
    frames = [solid_frame(i, 640, 480) for i in range(8)]
    for i in range(60):  # far faster than x264 encodes 640x480
        recorder.write(frames[i % 8])
    recorder.close()
    assert recorder.frames_dropped > 2
    assert recorder.frames_written + recorder.frames_dropped == 62
    assert sum("not keeping up" in m for m in messages) == 1
    assert sum("shape" in m for m in messages) == 1
    assert len(decode(path)[1]) == recorder.frames_written
    with pytest.raises(RuntimeError):
        recorder.write(frames[0])


CHILD = textwrap.dedent("""
    import sys, time
    import numpy as np
    from liveGAN.sinks.record import Recorder
    PALETTE = np.array({palette}, dtype=np.uint8)
    recorder = Recorder(sys.argv[1], (64, 64), fps=10, log=lambda m: None, queue_frames=64)
    for i in range(45):
        frame = np.empty((64, 64, 3), np.uint8)
        frame[:] = PALETTE[i % len(PALETTE)]
        recorder.write(frame)
        time.sleep(0.002)
    while recorder.frames_written < 45:
        time.sleep(0.01)
    print("written", flush=True)
    time.sleep(60)
""")


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
def test_a_killed_show_leaves_a_playable_file(tmp_path, suffix):
    path = tmp_path / f"show{suffix}"
    script = CHILD.format(palette=PALETTE.tolist())
    child = subprocess.Popen([sys.executable, "-c", script, str(path)],
                             stdout=subprocess.PIPE, text=True)
    try:
        ready, _, _ = select.select([child.stdout], [], [], 30)
        assert ready, "the recording child process did not finish writing in 30 s"
        assert child.stdout.readline().strip() == "written"
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
    assert child.returncode == -signal.SIGKILL
    assert not path.exists()
    partial = tmp_path / f"show.partial{suffix}"
    indices, images, size, _ = decode(partial)
    # Everything up to the last finished fragment/cluster (a keyframe every second = 10 frames)
    assert len(images) >= 30 and size == (64, 64)
    assert indices == list(range(len(images)))
    assert_colours(indices, images)


def test_a_hardware_encoder_falls_back_to_x264_where_it_cannot_open(tmp_path):
    messages: list[str] = []
    path = tmp_path / "gpu.mp4"
    with Recorder(path, (64, 64), fps=30, codec="h264_nvenc", log=messages.append) as recorder:
        for i in range(3):
            recorder.write(solid_frame(i, 64, 64))
    if recorder.codec == "libx264":
        assert any("h264_nvenc is not usable here" in m for m in messages)
    else:  # a machine with an NVIDIA encoder
        assert recorder.codec == "h264_nvenc"
    indices, images, _, _ = decode(path)
    assert indices == [0, 1, 2]
    assert_colours(indices, images)


def test_frames_grabbed_from_gl_arrive_a_frame_late_and_right_way_up(tmp_path):
    moderngl = pytest.importorskip("moderngl")
    from liveGAN.render.readback import FrameGrabber

    ctx = moderngl.create_standalone_context(backend="egl")
    try:
        framebuffer = ctx.framebuffer(color_attachments=[ctx.texture((32, 16), 4)])
        grabber = FrameGrabber(ctx, (32, 16))
        path = tmp_path / "gl.mp4"
        with Recorder(path, (32, 16), fps=30, log=lambda m: None) as recorder:
            for i in range(4):
                red, green, blue = PALETTE[i] / 255
                framebuffer.clear(red, green, blue, 1.0)
                # row 0 black: the picture's top row, by the project's convention
                framebuffer.clear(0.0, 0.0, 0.0, 1.0, viewport=(0, 0, 32, 1))
                pixels = grabber.grab(framebuffer)
                if i == 0:
                    assert pixels is None
                else:
                    assert tuple(pixels[-1, 0]) == tuple(PALETTE[i - 1])
                    assert pixels[0].max() == 0
                    recorder.write(pixels)
            recorder.write(grabber.last())
        assert grabber.last() is None
        grabber.release()

        plain_gl = FrameGrabber(ctx, (32, 16), rows_top_first=False)
        plain_gl.grab(framebuffer)
        pixels = plain_gl.last()
        assert pixels[-1].max() == 0 and tuple(pixels[0, 0]) == tuple(PALETTE[3])
        plain_gl.release()
        indices, images, _, _ = decode(path)
        assert indices == [0, 1, 2, 3]
        assert_colours(indices, images)
    finally:
        ctx.release()
