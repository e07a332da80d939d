"""Benchmarks that need the reference solution (run by hand; each prints what it measured)."""
