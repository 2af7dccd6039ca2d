"""Prefetching and background sinks: order, bounded look-ahead, errors raised in the caller, clean early exit."""

import threading
import time

import pytest

from sphereapp.core.background import BackgroundSink, prefetched


def test_prefetched_keeps_order():
    assert list(prefetched(range(100), depth=3)) == list(range(100))


def test_prefetched_reads_at_most_depth_ahead():
    produced = []

    def items():
        for k in range(50):
            produced.append(k)
            yield k

    iterator = prefetched(items(), depth=4)
    assert next(iterator) == 0
    time.sleep(0.2)
    assert len(produced) <= 1 + 4 + 1  # the one taken, a full queue, one waiting to be put
    iterator.close()


def test_producer_error_is_raised_in_the_consumer():
    def items():
        yield 1
        raise OSError("disk gone")

    with pytest.raises(OSError, match="disk gone"):
        list(prefetched(items()))


def test_leaving_early_stops_the_thread():
    before = threading.active_count()
    for item in prefetched(iter(range(10_000)), depth=2):
        if item == 3:
            break
    time.sleep(0.3)
    assert threading.active_count() == before


def test_sink_consumes_everything_in_order():
    seen = []
    with BackgroundSink(seen.append, depth=2) as sink:
        for k in range(20):
            sink.put(k)
    assert seen == list(range(20))


def test_sink_failure_is_raised_on_leaving():
    def consume(item):
        if item == 2:
            raise ValueError("cannot encode")

    with pytest.raises(ValueError, match="cannot encode"):
        with BackgroundSink(consume) as sink:
            for k in range(3):
                sink.put(k)


def test_sink_does_not_mask_the_callers_error():
    with pytest.raises(KeyboardInterrupt):
        with BackgroundSink(lambda item: None) as sink:
            sink.put(1)
            raise KeyboardInterrupt
