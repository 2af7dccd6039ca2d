"""sphereapp: open-set face recognition in video with SphereFace embeddings."""

__version__ = "0.1.0"
