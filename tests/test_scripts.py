"""The project's own scripts: the test runner stops only what it started."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(shutil.which("pulseaudio") is None, reason="PulseAudio is not installed")
def test_the_test_script_leaves_a_users_sound_server_running(tmp_path):
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    env = dict(os.environ, XDG_RUNTIME_DIR=str(runtime))
    subprocess.run(["pulseaudio", "--daemonize=yes", "--exit-idle-time=-1", "-n",
                    "--load=module-native-protocol-unix"], env=env, check=True, timeout=30)
    try:
        assert subprocess.run(["pulseaudio", "--check"], env=env).returncode == 0
        # The runner starts and stops its own servers around a tiny test run.
        result = subprocess.run(["bash", str(ROOT / "scripts" / "test.sh"), "-q",
                                 "-p", "no:cacheprovider", str(ROOT / "tests" / "test_log.py")],
                                env=env, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stdout + result.stderr
        assert subprocess.run(["pulseaudio", "--check"], env=env).returncode == 0, \
            "the test script stopped a sound server it did not start"
    finally:
        subprocess.run(["pulseaudio", "--kill"], env=env, timeout=30)
