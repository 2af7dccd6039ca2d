"""Inference core, in layers that import only downwards; never imports Qt.

errors, files, locations, background, memory  (any layer)
media        decoding, encoding, photos, drawing
vision       detector, alignment, networks, embedder, model files
identities   gallery store and snapshots, matching, enrolment
recognition  faces of video frames: results, recognizer, keyframes, search, reuse, cuts, tracking, speed
drivers      loops over a recognizer: a video file, a live player
"""
