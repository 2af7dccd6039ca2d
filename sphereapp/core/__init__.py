"""Inference core: decode, detect, align, embed, match, annotate, encode. Never imports Qt."""
