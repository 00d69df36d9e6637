"""numba kernels: plain functions on plain arrays. No validation happens here."""
