"""Benchmarks. Each module is a script whose last output line is one JSON object (see bench/README.md)."""
