"""The speed settings `sphereapp run`, `demo`, `bench` and the app's export use unless told otherwise.

Faces are detected on every 4th frame and interpolated in between (core/stride.py); a face followed from detection
to detection is embedded on every 2nd one (core/reuse.py). On hikers_walking (scripts/label_stability.py: 521
frames, 3 people enrolled) tracks stay as steady as with every frame recognised: 4 vs 2 label changes, the enrolled
people named in 92.2% vs 91.9% of their frames, never one name on two faces at once; 90.0% of faces get the same
label. At 480x360 that is 6.7x the naive facenet-pytorch loop and 1.23x real time on 2 CPU cores (`sphereapp bench`;
README).
"""

DEFAULT_DETECT_EVERY = 4
DEFAULT_EMBED_EVERY = 2
DEFAULT_SCAN_EVERY = 1
