"""Video recognition: the faces of frames, found, embedded, matched and followed; built on identities."""
