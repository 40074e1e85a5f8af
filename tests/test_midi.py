"""MIDI with real parts: a controller in another process on a dummy JACK server's virtual
ports, driving a running show; hot-plug, feedback, learn, MIDI clock in and out, bad input."""
from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from conftest import stand_in_show, wait_for
from liveGAN.sources.midi import MidiDecoder, MidiSource, PortMatcher, decode_encoder

# The controller: virtual ports named `nanoTest` (out to the show, in for feedback), driven
# line by line from the test's stdin so each step happens when the test says.
CONTROLLER = textwrap.dedent("""
    import sys, time, mido
    mido.set_backend("mido.backends.rtmidi/UNIX_JACK")
    import rtmidi
    NAME = sys.argv[1]
    out = mido.open_output(NAME, virtual=True, client_name="ctl")
    inp = mido.open_input(NAME + " in", virtual=True, client_name="ctl")
    raw = out._rt if hasattr(out, "_rt") else None
    def send_raw(data):
        out._rt.send_message(data)
    print("ready", flush=True)
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        cmd, args = words[0], [int(w) for w in words[1:] if w.lstrip("-").isdigit()]
        if cmd == "raw":
            send_raw(args)
        elif cmd == "close":
            out.close()
        elif cmd == "open":
            out = mido.open_output(NAME, virtual=True, client_name="ctl")
        elif cmd == "sysex":
            for i in range(args[0]):
                send_raw([0xF0] + [i % 128] * 200 + [0xF7])
        elif cmd == "clock":            # clock BPM SECONDS: start, then ticks
            bpm, seconds = args
            send_raw([0xFA])
            period = 60.0 / (24 * bpm)
            start = time.perf_counter()
            n = 0
            while time.perf_counter() - start < seconds:
                n += 1
                target = start + n * period
                while time.perf_counter() < target:
                    time.sleep(0.0005)
                send_raw([0xF8])
        elif cmd == "stop":
            send_raw([0xFC])
        elif cmd == "read":             # print what came back: feedback and clock
            time.sleep(0.2)
            got = [m.bytes() for m in inp.iter_pending()]
            print("got", repr(got), flush=True)
        elif cmd == "quit":
            break
        print("ok", flush=True)
""")


@pytest.fixture(scope="module")
def jack():
    """A JACK server: the one running (scripts/test.sh starts it), or a dummy one of our own."""
    if shutil.which("jackd") is None:
        pytest.skip("jackd is not installed (apt jackd2)")
    if subprocess.run(["jack_lsp"], capture_output=True).returncode == 0:
        yield None
        return
    server = subprocess.Popen(["jackd", "--no-realtime", "-d", "dummy", "-r", "48000",
                               "-p", "512"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    assert wait_for(lambda: subprocess.run(["jack_lsp"], capture_output=True).returncode == 0,
                    20)
    yield server
    server.terminate()
    try:
        server.wait(10)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait(10)


class Controller:
    """The controller process and a line-by-line conversation with it."""

    def __init__(self, name: str) -> None:
        self.process = subprocess.Popen([sys.executable, "-c", CONTROLLER, name],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        text=True)
        assert self.process.stdout.readline().strip() == "ready"

    def do(self, line: str) -> str:
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()
        reply = self.process.stdout.readline().strip()
        if reply.startswith("got"):
            assert self.process.stdout.readline().strip() == "ok"
        return reply

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.write("quit\n")
            self.process.stdin.flush()
            self.process.wait(10)


@pytest.fixture
def controller(jack, request):
    made = []

    def make(name: str = "nanoTest") -> Controller:
        made.append(Controller(name))
        return made[-1]

    yield make
    for c in made:
        c.close()


PATCH = """
[model]
preset = "stand-in"
[output]
size = [64, 48]
fps = 30
[osc]
enabled = false
[[shaders]]
effect = "grade"
[[inputs]]
kind = "midi"
port = "{port}"
api = "jack"
poll = 0.2
high_res = [1]
encoders = [16]
{extra}
"""


def make_show(tmp_path: Path, port: str = "nanoTest", extra: str = "", mappings: str = ""):
    show = stand_in_show(tmp_path, PATCH.format(port=port, extra=extra) + mappings)
    return show, show.lines


# -- decoding, without a port -------------------------------------------------------------------


def test_decoder_understands_running_status_and_counts_garbage():
    decoder = MidiDecoder()
    assert decoder.feed([0xB0, 7, 10, 7, 11, 0x90, 60, 100, 61, 0]) == [
        (0xB0, (7, 10)), (0xB0, (7, 11)), (0x90, (60, 100)), (0x90, (61, 0))]
    # Running status carries over to the next packet; a clock tick may sit inside a message.
    assert decoder.feed([62, 0xF8, 90]) == [(0xF8, ()), (0x90, (62, 90))]
    fresh = MidiDecoder()
    assert fresh.feed([1, 2, 3]) == [] and fresh.stray == 3       # data with no status
    assert fresh.feed([0xB0, 7]) == [] and fresh.stray == 4       # cut short
    assert fresh.feed([0xF0, 1, 2, 3, 0xF7, 0xC0, 5]) == [(0xC0, (5,))]  # SysEx skipped whole
    assert fresh.feed([0xF2, 3, 1]) == [(0xF2, (3, 1))]           # song position
    assert fresh.feed([5, 5]) == [] and fresh.stray == 6          # system common ends running
    assert fresh.feed([300, -1, "x"]) == [] and fresh.stray == 9


def test_encoder_modes():
    assert [decode_encoder(v, "twos") for v in (1, 5, 127, 120)] == [1, 5, -1, -8]
    assert [decode_encoder(v, "offset") for v in (65, 70, 63, 64)] == [1, 6, -1, 0]
    assert [decode_encoder(v, "signed") for v in (1, 5, 65, 70)] == [1, 5, -1, -6]


def test_ports_by_name_regex_or_all_and_bad_options():
    names = ["ctl:nanoKONTROL2", "Launch Control XL:out", "nano"]
    assert PortMatcher("NANOkontrol").pick(names, many=True) == ["ctl:nanoKONTROL2"]
    assert PortMatcher("nano").pick(names, many=True) == ["nano"]          # exact wins
    assert PortMatcher("re:^Launch").pick(names, many=True) == ["Launch Control XL:out"]
    assert PortMatcher("*").pick(names, many=True) == names
    for options, why in [({"port": "re:("}, "regular expression"), ({"channel": 17}, "1..16"),
                         ({"encoders": [200]}, "0..127"), ({"speed": 1}, "unknown option"),
                         ({"encoder_mode": "weird"}, "encoder_mode"), ({"api": "x"}, "api")]:
        with pytest.raises(ValueError, match=why):
            MidiSource(options)


# -- a controller in another process, through JACK ----------------------------------------------


MAPPINGS = """
[[mappings]]
source = "/midi/1/cc/7"
target = "output/fade"
[[mappings]]
source = "/midi/1/cc/1"
target = "latent/speed"
[[mappings]]
source = "/midi/1/cc/16"
target = "grade/saturation"
mode = "relative"
[[mappings]]
source = "/midi/1/note/36"
target = "output/blackout"
mode = "toggle"
[[mappings]]
source = "/midi/2/bend"
target = "grade/hue"
input = [-1.0, 1.0]
[[mappings]]
source = "/midi/1/pressure"
target = "grade/contrast"
[[mappings]]
source = "/midi/1/note/40"
target = "latent/next_seed"
"""


def test_a_controller_plays_the_show(tmp_path, controller, show_thread):
    ctl = controller()
    show, lines = make_show(tmp_path, mappings=MAPPINGS)
    values = show.values
    with show_thread(show):
        assert wait_for(lambda: any("MIDI: listening to ctl:nanoTest" in l for l in lines))
        ctl.do("raw 176 7 127")                              # CC 7 full: fade 1.0
        ctl.do("raw 176 7 0")
        assert wait_for(lambda: values.target["output/fade"] == 0.0)
        ctl.do("raw 176 1 64")                               # 14-bit: MSB 64 ...
        ctl.do("raw 176 33 127")                             # ... LSB 127
        speed = show.registry["latent/speed"]
        expected = speed.min + (speed.max - speed.min) * ((64 << 7) | 127) / 16383
        assert wait_for(lambda: values.target["latent/speed"] == pytest.approx(expected))
        saturation = values.target["grade/saturation"]
        sat = show.registry["grade/saturation"]
        ctl.do("raw 176 16 3")                               # encoder: +3 steps
        ctl.do("raw 176 16 127")                             # -1 step
        step = (sat.max - sat.min) / 127
        assert wait_for(lambda: values.target["grade/saturation"]
                        == pytest.approx(min(saturation + 2 * step, sat.max)))
        ctl.do("raw 144 36 100")                             # note on: toggle blackout on
        ctl.do("raw 128 36 0")                               # note off: nothing
        assert wait_for(lambda: values.target["output/blackout"] == 1.0)
        ctl.do("raw 144 36 1")                               # any velocity presses
        assert wait_for(lambda: values.target["output/blackout"] == 0.0)
        ctl.do("raw 225 0 0")                                # bend fully down on channel 2
        hue = show.registry["grade/hue"]
        assert wait_for(lambda: values.target["grade/hue"] == pytest.approx(hue.min))
        ctl.do("raw 208 127")                                # channel aftertouch
        contrast = show.registry["grade/contrast"]
        assert wait_for(lambda: values.target["grade/contrast"] == pytest.approx(contrast.max))
        seed = values.typed("latent/seed")
        ctl.do("raw 144 40 5")                               # a soft note fires the trigger
        assert wait_for(lambda: values.typed("latent/seed") == seed + 1)
        # Feedback: a value set elsewhere goes back to the controller's CC 7.
        show.inbox.post("/livegan/output/fade", 0.5)
        assert wait_for(lambda: values.target["output/fade"] == 0.5)
        assert wait_for(lambda: "[176, 7, 64]" in ctl.do("read"), 20)
        # Program change n recalls scene n + 1.
        show.inbox.post("/livegan/scene/save", 2)
        assert wait_for(lambda: any("scene 2 saved" in l for l in lines))
        show.inbox.post("/livegan/output/fade", 0.125)
        assert wait_for(lambda: values.target["output/fade"] == 0.125)
        ctl.do("raw 192 1")
        assert wait_for(lambda: values.target["output/fade"] == 0.5)
        frames = show.clock.frame
        assert wait_for(lambda: show.clock.frame > frames + 5)


def test_unplugged_controller_comes_back_with_one_line_each_way(tmp_path, controller,
                                                                 show_thread):
    ctl = controller()
    show, lines = make_show(tmp_path, mappings=MAPPINGS)
    with show_thread(show):
        assert wait_for(lambda: any("listening to ctl:nanoTest" in l for l in lines))
        ctl.do("close")
        assert wait_for(lambda: any("ctl:nanoTest disconnected" in l for l in lines))
        frame = show.clock.frame
        assert wait_for(lambda: show.clock.frame > frame + 10)   # the show goes on
        ctl.do("open")
        assert wait_for(lambda: any("MIDI: connected ctl:nanoTest" in l for l in lines))
        ctl.do("raw 176 7 127")
        ctl.do("raw 176 7 32")
        assert wait_for(lambda: show.values.target["output/fade"] == pytest.approx(32 / 127))
    assert sum("disconnected" in l for l in lines) == 1
    assert sum("connected ctl:nanoTest" in l and "dis" not in l for l in lines) == 1


def test_unknown_port_lists_the_ports_and_the_show_goes_on(tmp_path, controller, show_thread):
    controller()
    show, lines = make_show(tmp_path, port="NoSuchThing")
    with show_thread(show):
        assert wait_for(lambda: any("no input port matches 'NoSuchThing'" in l for l in lines))
        line = next(l for l in lines if "NoSuchThing" in l)
        assert "ctl:nanoTest" in line                     # the ports there are
        frame = show.clock.frame
        assert wait_for(lambda: show.clock.frame > frame + 10)
    assert sum("NoSuchThing" in l for l in lines) == 1


def test_sysex_flood_garbage_and_running_status(tmp_path, controller, show_thread):
    ctl = controller()
    show, lines = make_show(tmp_path, mappings=MAPPINGS)
    with show_thread(show):
        assert wait_for(lambda: any("listening to" in l for l in lines))
        ctl.do("sysex 300")
        for _ in range(20):
            ctl.do("raw 7 7 7")                              # data bytes with no status
        ctl.do("raw 176 7 10")                               # running status: the next two
        ctl.do("raw 7 20")                                   # events carry data bytes only
        ctl.do("raw 7 100")
        assert wait_for(lambda: show.values.target["output/fade"] == pytest.approx(100 / 127))
        frame = show.clock.frame
        assert wait_for(lambda: show.clock.frame > frame + 10)
    garbage = [l for l in lines if "not MIDI" in l]
    assert 1 <= len(garbage) <= 2                          # once (a second later, a count)


def test_learn_binds_a_control_and_writes_it_into_the_patch(tmp_path, controller,
                                                          show_thread):
    ctl = controller()
    show, lines = make_show(tmp_path, extra="# my comment stays\n")
    path = tmp_path / "patch.toml"
    with show_thread(show):
        assert wait_for(lambda: any("listening to" in l for l in lines))
        show.inbox.post("/livegan/learn", "latent/truncation")
        assert wait_for(lambda: any("learn: move a MIDI control" in l for l in lines))
        ctl.do("raw 177 21 127")                           # CC 21 on channel 2
        assert wait_for(lambda: any("/midi/2/cc/21 now drives latent/truncation" in l
                                    for l in lines))
        ctl.do("raw 177 21 0")                             # bound at once: it drives it now
        truncation = show.registry["latent/truncation"]
        assert wait_for(lambda: show.values.target["latent/truncation"] == truncation.min)
        assert wait_for(lambda: "/midi/2/cc/21" in path.read_text())
        # Learn with no control moved: times out with a line, nothing bound.
        show.instrument.learn.timeout_s = 0.5
        show.inbox.post("/livegan/learn", "latent/speed")
        assert wait_for(lambda: any("no MIDI control moved" in l for l in lines))
        show.inbox.post("/livegan/learn", "no/such")
        assert wait_for(lambda: any("learn takes the key of a settable parameter" in l
                                    for l in lines))
    text = path.read_text()
    assert "# my comment stays" in text
    from liveGAN.patch import load_patch

    patch = load_patch(path)
    assert [(m.source, m.target) for m in patch.mappings] == [("/midi/2/cc/21",
                                                               "latent/truncation")]


def test_midi_clock_in_sets_the_tempo_and_stop_holds_the_beat(tmp_path, controller,
                                                              show_thread):
    ctl = controller()
    show, lines = make_show(tmp_path, mappings='\n[clock]\nsource = "midi"\n')
    with show_thread(show):
        assert wait_for(lambda: any("listening to" in l for l in lines))
        ctl.do("clock 140 4")
        assert wait_for(lambda: any("following the midi tempo" in l for l in lines))
        assert show.values["clock/bpm"] == pytest.approx(140, abs=3)
        assert show.clock.tempo.beat == pytest.approx(4 * 140 / 60, abs=1.0)
        ctl.do("stop")
        time.sleep(0.5)
        held = show.clock.tempo.beat
        time.sleep(1.0)
        assert show.clock.tempo.beat == pytest.approx(held, abs=0.05)


def test_clock_out_ticks_24_times_a_beat(tmp_path, controller, show_thread):
    ctl = controller()
    show, lines = make_show(tmp_path, extra="clock_out = true",
                            mappings="\n[clock]\nbpm = 150\n")
    with show_thread(show):
        assert wait_for(lambda: show.source("MidiSource").output_port is not None)
        ctl.do("read")
        started = time.perf_counter()
        time.sleep(2.0)
        got = ctl.do("read")
        elapsed = time.perf_counter() - started
    ticks = got.count("[248]")
    assert ticks == pytest.approx(elapsed * 150 / 60 * 24, rel=0.15)


def test_livegan_learn_writes_the_control_into_the_patch(tmp_path, controller):
    ctl = controller()
    path = tmp_path / "patch.toml"
    path.write_text(PATCH.format(port="nanoTest", extra="") + "# the end stays\n")
    learn = subprocess.Popen([sys.executable, "-m", "liveGAN.cli", "learn", str(path),
                              "output/blackout", "--timeout", "60"],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    said = []
    for line in learn.stdout:
        said.append(line)
        if "move a MIDI control" in line:
            break
    time.sleep(0.5)
    ctl.do("raw 153 42 90")                    # a pad: note 42 on channel 10
    out, _ = learn.communicate(timeout=60)
    assert learn.returncode == 0, said + [out]
    assert "/midi/10/note/42 now drives output/blackout" in out
    text = path.read_text()
    assert "# the end stays" in text
    from liveGAN.patch import load_patch

    spec = load_patch(path).mappings[-1]
    assert (spec.source, spec.target, spec.mode) == ("/midi/10/note/42", "output/blackout",
                                                     "toggle")
    # Nothing moves: it says so and leaves the patch alone.
    quiet = subprocess.run([sys.executable, "-m", "liveGAN.cli", "learn", str(path),
                            "latent/speed", "--timeout", "1"], capture_output=True, text=True,
                           timeout=60)
    assert quiet.returncode == 1 and "no MIDI control moved" in quiet.stdout
    assert path.read_text() == text
