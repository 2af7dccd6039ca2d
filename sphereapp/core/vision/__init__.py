"""Face vision: detection, alignment, embedding networks and model files; built on media."""
