"""StageTimes adds up seconds and calls per stage, from any thread; NO_TIMES measures nothing."""

import threading

import pytest

from sphereapp.core.timing import NO_TIMES, Stage, StageTimes, StageTotal


def test_adds_seconds_and_counts_calls_per_stage():
    times = StageTimes()
    times.add(Stage.SCAN, 0.5)
    times.add(Stage.SCAN, 0.25, calls=2)
    with times.stage(Stage.EMBED):
        pass
    totals = times.totals()
    assert totals[Stage.SCAN] == StageTotal(0.75, 3)
    assert totals[Stage.EMBED].calls == 1 and totals[Stage.EMBED].seconds >= 0
    assert totals[Stage.DECODE] == StageTotal(0.0, 0)
    assert list(totals) == list(Stage)  # every stage, in pipeline order


def test_a_stage_that_raises_is_still_counted():
    times = StageTimes()
    with pytest.raises(ValueError), times.stage(Stage.TRACK):
        raise ValueError("boom")
    assert times.totals()[Stage.TRACK].calls == 1


def test_iterate_times_each_item_and_counts_only_items():
    times = StageTimes()
    assert list(times.iterate(iter("abc"), Stage.DECODE)) == ["a", "b", "c"]
    total = times.totals()[Stage.DECODE]
    assert total.calls == 3 and total.seconds >= 0


def test_adds_from_many_threads_at_once():
    times = StageTimes()

    def work() -> None:
        for _ in range(1000):
            times.add(Stage.ENCODE, 0.001)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    total = times.totals()[Stage.ENCODE]
    assert total.calls == 4000 and total.seconds == pytest.approx(4.0)


def test_no_times_measures_nothing_and_hands_out_one_shared_context():
    items = iter([1, 2])
    assert NO_TIMES.iterate(items, Stage.DECODE) is items
    assert NO_TIMES.stage(Stage.SCAN) is NO_TIMES.stage(Stage.EMBED)
    with NO_TIMES.stage(Stage.SCAN):
        NO_TIMES.add(Stage.SCAN, 1.0)
    assert all(total == StageTotal() for total in NO_TIMES.totals().values())


def test_each_stage_names_its_thread():
    assert {stage.thread for stage in Stage} == {"decoder", "main", "encoder"}
    assert (Stage.DECODE.thread, Stage.EMBED.thread, Stage.ENCODE.thread) == ("decoder", "main", "encoder")
    assert len({stage.label for stage in Stage}) == len(Stage)
