"""The index of a video: the people in it, when they appear, and a report of it; built on recognition."""
