"""`sphereapp bench --profile`: where the pipeline's time goes, stage by stage, on each of its threads.

Decoding, recognition and drawing + encoding run at the same time on three threads (core/background.py), so the
stages are shown thread by thread: each thread's lines, with the time it spent on nothing measured ("other" on the
main thread: glue code, the JSON log, finishing the file; "idle" on the others), add up to the wall time of the
runs. The slowest thread sets the pace: a main thread that mostly waits for frames or for the encoder is held up
by that thread.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from sphereapp.core.drivers.file import RunSummary
from sphereapp.core.timing import MAIN, Stage, StageTimes

THREADS = tuple(dict.fromkeys(stage.thread for stage in Stage))  # in pipeline order
UNMEASURED = {thread: "other" if thread == MAIN else "idle" for thread in THREADS}


@dataclass(frozen=True)
class StageLine:
    """One line of a profile: a stage of a thread (or the rest of its time: `calls` None) and its seconds."""

    thread: str
    stage: str
    seconds: float
    calls: int | None


@dataclass(frozen=True)
class Profile:
    """The time of each stage over `runs` runs of the pipeline, which took `wall` seconds for `frames` frames."""

    runs: int
    wall: float
    frames: int
    stages: tuple[StageLine, ...]  # every `Stage`, in pipeline order

    @classmethod
    def of(cls, times: StageTimes, runs: Sequence[RunSummary]) -> Profile:
        """The profile of `runs`, whose stages `times` measured."""
        lines = tuple(StageLine(stage.thread, stage.label, total.seconds, total.calls)
                      for stage, total in times.totals().items())
        return cls(len(runs), sum(run.seconds for run in runs), sum(run.frames for run in runs), lines)

    def lines(self) -> Iterator[StageLine]:
        """Thread by thread, its stages and then the rest of its time."""
        for thread in THREADS:
            own = [line for line in self.stages if line.thread == thread]
            yield from own
            rest = max(0.0, self.wall - sum(line.seconds for line in own))
            yield StageLine(thread, UNMEASURED[thread], rest, None)

    def share(self, seconds: float) -> float:
        """`seconds` as a fraction of the wall time."""
        return seconds / self.wall if self.wall > 0 else 0.0

    def ms_per_frame(self, seconds: float) -> float:
        """`seconds` in milliseconds per frame run."""
        return 1000 * seconds / self.frames if self.frames else 0.0

    def to_dict(self) -> dict:
        """The profile for JSON: its lines with their share and milliseconds per frame."""
        return {"runs": self.runs, "wall_seconds": round(self.wall, 4), "frames": self.frames,
                "stages": [{"thread": line.thread, "stage": line.stage, "seconds": round(line.seconds, 4),
                            "share": round(self.share(line.seconds), 4),
                            "ms_per_frame": round(self.ms_per_frame(line.seconds), 3), "calls": line.calls}
                           for line in self.lines()]}


def format_profile(profile: Profile, title: str) -> str:
    """The profile as an aligned text table, thread by thread, under `title` and what it covers."""
    runs = f"{profile.runs} runs" if profile.runs != 1 else "1 run"
    rows = [f"{title}: {profile.frames} frames in {profile.wall:.2f} s ({runs}); each thread's lines add up to that "
            "time, and the threads run at once",
            f"{'thread':<8} {'stage':<17} {'seconds':>8} {'share':>6} {'ms/frame':>8} {'calls':>6}"]
    for line in profile.lines():
        calls = "-" if line.calls is None else str(line.calls)
        rows.append(f"{line.thread:<8} {line.stage:<17} {line.seconds:>8.3f} {profile.share(line.seconds):>6.1%} "
                    f"{profile.ms_per_frame(line.seconds):>8.2f} {calls:>6}")
    return "\n".join(rows)
