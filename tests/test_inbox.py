"""The show's inbox: never blocks, newest value wins for continuous addresses, events keep order."""
import threading

from liveGAN.show.inbox import Inbox


def test_events_queue_in_order_and_a_full_queue_drops_and_counts():
    inbox = Inbox(max_events=10)
    results = [inbox.post("/a", i) for i in range(15)]
    assert results.count(True) == 10 and inbox.dropped == 5
    latest, events = inbox.drain()
    assert latest == {} and [v for _, (v,) in events] == list(range(10))
    assert inbox.post("/a", 99)
    assert [v for _, (v,) in inbox.drain()[1]] == [99]


def test_continuous_addresses_keep_only_the_newest_value():
    inbox = Inbox(max_events=10)
    inbox.set_continuous({"/fader"})
    for i in range(100_000):
        inbox.post("/fader", float(i))
    inbox.post("/button", 1.0)
    latest, events = inbox.drain()
    # A flood of moves costs one value, the newest, and never fills the event queue.
    assert latest == {"/fader": (99999.0,)}
    assert list(events) == [("/button", (1.0,))] and inbox.dropped == 0


def test_too_many_values_are_refused():
    inbox = Inbox()
    assert not inbox.post("/x", *range(10_000))
    assert inbox.refused == 1 and inbox.drain()[1] == type(inbox.drain()[1])()


def test_posts_from_threads():
    inbox = Inbox(max_events=100_000)
    threads = [threading.Thread(target=lambda: [inbox.post("/x", i) for i in range(1000)])
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(inbox.drain()[1]) == 4000
