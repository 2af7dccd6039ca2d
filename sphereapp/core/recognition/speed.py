"""The speed settings `sphereapp run`, `demo`, `bench` and the app's export use unless told otherwise.

Faces are detected on every 4th frame and interpolated in between (core/recognition/keyframes.py); every 2nd of those keyframes is
scanned whole for faces and the others are searched only near the faces of the scanned ones (core/recognition/search.py; scanned
as well where faces move fast); a face followed from keyframe to keyframe is embedded on every 2nd one
(core/recognition/reuse.py). On hikers_walking (scripts/label_stability.py, shipped model: 521 frames, 3 people enrolled) that
gives 3 label changes (tracked on every frame: 2), the enrolled people named in 98.3% of their tracks' frames (98.0%)
and 88.0% of faces the every-frame label (91.7% when every keyframe is scanned); on the marathon crowd 80.8% and 1
label change. `sphereapp bench --repeat 3` on hikers: 8.2x / 6.7x / 5.3x the naive facenet-pytorch loop at
360p / 720p / 1080p on 2 CPU cores, 1.97x real time at 360p; marathon crowd at 360p: 7.1x, 0.97x real time (README:
Measured).
"""

DEFAULT_DETECT_EVERY = 4
DEFAULT_EMBED_EVERY = 2
DEFAULT_SCAN_EVERY = 2
