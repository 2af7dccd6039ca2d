"""The speed setting: how much recognition work a run skips, one immutable value checked once.

Faces are detected on every `detect_every`-th frame and interpolated in between (keyframes.py);
every `scan_every`-th of those keyframes is scanned whole for faces and the others are searched only near the faces
of the scanned ones (search.py); a face followed from keyframe to keyframe is embedded on every
`embed_every`-th one and keeps its embedding in between (reuse.py). The defaults keep tracks about
as steady as recognising every frame at a fraction of the cost (docs/MEASURED.md); EVERY_FRAME skips nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from sphereapp.core.errors import InputError


@dataclass(frozen=True)
class Speed:
    """What `sphereapp run`, `demo`, `bench`, the app's export and player use unless told otherwise."""

    detect_every: int = 4
    embed_every: int = 2
    scan_every: int = 2

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InputError(f"--{field.name.replace('_', '-')} must be at least 1, not {value}")


EVERY_FRAME = Speed(1, 1, 1)
