"""The in-memory gallery snapshot matching uses: names, colours and embeddings of the enrolled people."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sphereapp.core.identities.store import GalleryStore
from sphereapp.core.media.annotate import Color
from sphereapp.core.vision.embed import Embedder


@dataclass(frozen=True, eq=False)
class Gallery:
    """What matching needs: row i of `embeddings` is `names[i]`, drawn in `colors[i]` (RGB)."""

    names: list[str]
    colors: list[Color]
    embeddings: np.ndarray  # (M, D) float32, L2-normalised rows

    def __len__(self) -> int:
        return len(self.names)

    @classmethod
    def empty(cls, embedding_size: int) -> Gallery:
        """No one enrolled: every face is unknown."""
        return cls([], [], np.zeros((0, embedding_size), np.float32))

    @classmethod
    def from_store(cls, store: GalleryStore, embedder: Embedder) -> Gallery:
        """Every stored identity, first re-embedded where another model computed it."""
        store.refresh_embeddings(embedder)
        identities = store.identities()
        if not identities:
            return cls.empty(embedder.info.embedding_size)
        return cls(
            [identity.name for identity in identities],
            [identity.color for identity in identities],
            np.stack([identity.embedding for identity in identities]),
        )
