"""Drivers: loops that feed a recognizer frames, from a video file or a live player."""
