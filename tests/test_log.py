"""The rate-limited log: one line per kind per interval with a count, lines cut short."""
from liveGAN.log import MAX_LINE, RateLimitedLog, clip


def test_one_line_per_kind_per_interval_with_the_count():
    now = [0.0]
    lines = []
    log = RateLimitedLog(interval=1.0, sink=lines.append, clock=lambda: now[0])
    for _ in range(5):
        log("osc", "bad message")
    log("midi", "unknown device")
    assert lines == ["bad message", "unknown device"]
    now[0] = 1.5
    log("osc", "bad message")
    assert lines[-1] == "bad message (and 4 more like it)"


def test_no_line_is_longer_than_the_limit():
    lines = []
    log = RateLimitedLog(sink=lines.append)
    log("osc", "x" * 90_000)
    log.say("\n".join(["y" * 1000] * 3000))
    assert all(len(line) <= MAX_LINE + 40 for text in lines for line in text.splitlines())
    assert sum(text.count("\n") + 1 for text in lines) <= 1 + 40
    assert clip("short") == "short"


def test_repeats_of_all_kinds_together_print_once_per_interval():
    now = [0.0]
    lines = []
    log = RateLimitedLog(interval=1.0, sink=lines.append, clock=lambda: now[0])
    kinds = ["unknown", "type", "count", "malformed"]
    for step in range(1000):  # ten seconds of mixed garbage, 100 messages a second
        now[0] = step / 100
        log(kinds[step % 4], f"bad {kinds[step % 4]}")
    # The first of each kind at once, then one line a second, the kinds taking turns.
    assert lines[:4] == [f"bad {k}" for k in kinds]
    assert len(lines) - 4 <= 10
    assert {line.split(" (")[0] for line in lines[4:]} == {f"bad {k}" for k in kinds}
    assert all("more like it)" in line for line in lines[4:])
