"""Shared test set-up: headless SDL, small patches, an engine running on a thread."""
from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

import pytest

# A real pygame OpenGL window without a display server (through EGL), and no sound card.
os.environ.setdefault("SDL_VIDEODRIVER", "offscreen")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def pytest_sessionfinish(session, exitstatus) -> None:
    session.config._livegan_status = int(exitstatus)


def pytest_unconfigure(config) -> None:
    """As `livegan` does: a test that took a sound server away can leave a stream whose close
    hangs, and PortAudio's shutdown at exit would then wait forever; the suite's own status
    is what the process ends with. (Runs after the summary has been printed.)"""
    audio = sys.modules.get("liveGAN.sources.audio")
    if audio is not None:
        audio.leave_now_if_a_close_hangs(getattr(config, "_livegan_status", 1))


def wait_for(condition, timeout: float = 20.0, interval: float = 0.02) -> bool:
    """Poll `condition` until true or `timeout` seconds pass; returns its last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return bool(condition())


class ShowThread:
    """A Show playing on its own thread, as `livegan run` would, for tests that poke it."""

    def __init__(self, engine) -> None:
        self.engine = engine
        self.summary = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self.summary = self.engine.run()
        except BaseException as err:  # surfaced by stop()
            self.error = err

    def __enter__(self):
        self.thread.start()
        assert wait_for(lambda: getattr(self.engine, "clock", None) is not None
                        and self.engine.clock.frame > 2 or self.error is not None, 60)
        if self.error:
            raise self.error
        return self

    def frame(self) -> int:
        return self.engine.clock.frame

    def __exit__(self, *exc) -> None:
        self.engine.stop()
        self.thread.join(30)
        if self.error and not exc[0]:
            raise self.error


@pytest.fixture(autouse=True, scope="session")
def one_torch_thread():
    """Tests use tiny models that gain nothing from threads, and on a busy 2-core machine
    torch's spinning worker threads make them many times slower (see bench/RESULTS.md)."""
    import torch

    torch.set_num_threads(1)
    yield


@pytest.fixture
def show_thread():
    return ShowThread


@pytest.fixture
def python_exe() -> str:
    return sys.executable


XORG_CONF = """
Section "Device"
  Identifier "d"
  Driver "dummy"
  VideoRam 256000
EndSection
Section "Monitor"
  Identifier "m"
  HorizSync 5.0-1000.0
  VertRefresh 5.0-200.0
EndSection
Section "Screen"
  Identifier "s"
  Device "d"
  Monitor "m"
  DefaultDepth 24
  SubSection "Display"
    Depth 24
    Virtual 2560 1440
  EndSubSection
EndSection
"""


class TwoDisplays:
    """An Xorg server with the dummy driver and two outputs of `size` side by side (DUMMY0 at
    +0+0, DUMMY1 right of it): what a machine with two projectors looks like to SDL. Also used
    by bench/outputs_bench.py."""

    def __init__(self, folder: Path, size: tuple[int, int] = (640, 480)) -> None:
        self.size = size
        import shutil
        import subprocess

        missing = [tool for tool in ("Xorg", "xrandr") if shutil.which(tool) is None]
        if not Path("/usr/lib/xorg/modules/drivers/dummy_drv.so").exists():
            missing.append("the dummy video driver")
        if missing:
            pytest.skip(f"no Xorg dummy-driver set-up here (missing: {', '.join(missing)}); "
                        "scripts/setup.sh installs it")
        config = folder / "xorg.conf"
        config.write_text(XORG_CONF)
        read_end, write_end = os.pipe()
        self.server = subprocess.Popen(
            ["Xorg", "-displayfd", str(write_end), "-noreset", "-nolisten", "tcp",
             "-config", str(config), "-logfile", str(folder / "xorg.log")],
            pass_fds=[write_end], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(write_end)
        with os.fdopen(read_end) as pipe:
            number = pipe.readline().strip()
        if not number:
            self.server.kill()
            pytest.skip(f"Xorg did not start (see {folder / 'xorg.log'})")
        self.display = f":{number}"
        self.env = dict(os.environ, DISPLAY=self.display, SDL_VIDEODRIVER="x11")
        width, height = self.size
        mode = f"{width}x{height}"
        for command in (["--output", "DUMMY0", "--mode", mode, "--pos", "0x0"],
                        ["--addmode", "DUMMY1", mode],
                        ["--output", "DUMMY1", "--mode", mode, "--right-of", "DUMMY0"]):
            subprocess.run(["xrandr", "--display", self.display, *command], check=True,
                           timeout=30, capture_output=True)
        # SDL reads the server's current configuration without asking it to probe its outputs;
        # a plain query (what `xrandr` alone does) makes the server take the new output in.
        subprocess.run(["xrandr", "--display", self.display], check=True, timeout=30,
                       capture_output=True)
        probe = ("import pygame; pygame.display.init(); "
                 "print(len(pygame.display.get_desktop_sizes()))")
        if not wait_for(lambda: subprocess.run(
                [sys.executable, "-c", probe], env=dict(self.env, PYGAME_HIDE_SUPPORT_PROMPT="1"),
                capture_output=True, text=True, timeout=30).stdout.strip() == "2", 30, 0.2):
            self.stop()
            pytest.skip("the Xorg dummy server did not offer two displays to SDL")

    def screenshot(self) -> "np.ndarray":
        """The whole X screen (both displays) as HxWx3 uint8: the root window's pixels, as
        `xwd -root` takes them (python-xlib, so no ImageMagick is needed to read them)."""
        import numpy as np
        from Xlib import X, display

        connection = display.Display(self.display)
        try:
            root = connection.screen().root
            geometry = root.get_geometry()
            image = root.get_image(0, 0, geometry.width, geometry.height, X.ZPixmap,
                                   0xFFFFFFFF)
        finally:
            connection.close()
        # depth 24 in 32-bit pixels, little-endian: B, G, R, unused
        pixels = np.frombuffer(image.data, np.uint8).reshape(geometry.height, geometry.width, 4)
        return pixels[:, :, 2::-1].copy()

    def stop(self) -> None:
        self.server.terminate()
        try:
            self.server.wait(timeout=10)
        except Exception:  # noqa: BLE001
            self.server.kill()


@pytest.fixture(scope="module")
def two_displays(tmp_path_factory):
    server = TwoDisplays(tmp_path_factory.mktemp("xorg"))
    yield server
    server.stop()


class PulseServer:
    """A PulseAudio server of the test's own with a null sink, reached through PULSE_SERVER:
    sound another process plays into it (`play`, paplay) comes back from the `pulse` input
    device (the sink's monitor). `stop()` and `start()` take it away and bring it back, as an
    unplugged and replugged sound card would. Also used by bench/audio_latency.py."""

    def __init__(self, folder: Path) -> None:
        import shutil

        missing = [tool for tool in ("pulseaudio", "pactl", "paplay") if shutil.which(tool) is None]
        if missing:
            pytest.skip(f"no PulseAudio here (missing: {', '.join(missing)}); "
                        "scripts/setup.sh installs it")
        self.folder = folder
        self.server = f"unix:{folder / 'native'}"
        self.process = None
        self.start()

    def _pactl(self, *args: str):
        import subprocess

        return subprocess.run(["pactl", "-s", self.server, *args], capture_output=True,
                              timeout=30)

    def start(self) -> None:
        import subprocess

        env = dict(os.environ, XDG_RUNTIME_DIR=str(self.folder), HOME=str(self.folder))
        self.process = subprocess.Popen(
            ["pulseaudio", "--daemonize=no", "--exit-idle-time=-1", "-n",
             "--load=module-null-sink sink_name=test_sink",
             f"--load=module-native-protocol-unix socket={self.folder / 'native'} "
             "auth-anonymous=1"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not wait_for(lambda: self._pactl("info").returncode == 0, 30, 0.1):
            self.stop()
            pytest.skip("the test's PulseAudio server did not start")
        self._pactl("set-default-sink", "test_sink")
        self._pactl("set-default-source", "test_sink.monitor")

    def play(self, path) -> "subprocess.Popen":
        """Play a sound file into the null sink from another process."""
        import subprocess

        return subprocess.Popen(["paplay", "-s", self.server, str(path)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except Exception:  # noqa: BLE001
                self.process.kill()
            self.process = None


@pytest.fixture(scope="module")
def pulse_server(tmp_path_factory):
    """A PulseServer whose null sink this process hears as its `pulse` input device."""
    server = PulseServer(tmp_path_factory.mktemp("pulse"))
    saved = os.environ.get("PULSE_SERVER")
    os.environ["PULSE_SERVER"] = server.server
    yield server
    server.stop()
    if saved is None:
        os.environ.pop("PULSE_SERVER", None)
    else:
        os.environ["PULSE_SERVER"] = saved


def stand_in_show(tmp_path: Path, patch_text: str, **options):
    """A Show of `patch_text` (written to tmp_path/patch.toml) with the stand-in generator,
    headless and not watching files unless `options` say otherwise; what it prints is kept in
    `show.lines`."""
    from liveGAN.show.options import RunOptions
    from liveGAN.show.show import Show
    from liveGAN.standin import stand_in_bundle

    path = tmp_path / "patch.toml"
    path.write_text(patch_text)
    lines: list[str] = []
    show = Show(path, RunOptions(**{"headless": True, "watch": False, **options}),
                print_fn=lines.append, bundle=stand_in_bundle(16))
    show.lines = lines
    return show


@pytest.fixture
def playing(tmp_path, show_thread):
    """`with playing(PATCH) as show:`: a stand-in show of PATCH on its own thread."""
    from contextlib import contextmanager

    @contextmanager
    def play(patch_text: str, **options):
        show = stand_in_show(tmp_path, patch_text, **options)
        with show_thread(show):
            yield show

    return play
