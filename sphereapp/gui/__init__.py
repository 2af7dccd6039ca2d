"""The desktop app (PySide6): player, gallery editing and export, built on sphereapp.core."""
