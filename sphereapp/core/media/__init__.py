"""Media I/O: video decoding and encoding, photos, drawing recognised faces."""
