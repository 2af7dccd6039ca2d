"""Errors whose message is a complete one-line explanation for the user."""


class SphereappError(Exception):
    """Base class: the message is shown to the user as is (CLI: one line, non-zero exit; GUI: dialog)."""


class InputError(SphereappError):
    """A file or argument given by the user cannot be used (missing, unreadable, wrong kind)."""


class ModelFileError(SphereappError):
    """A model weights file is missing, corrupt, or not a sphereapp embedder."""


class NoFaceError(InputError):
    """An image that must contain a face has none that the detector finds."""
