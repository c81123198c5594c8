"""Benchmarks: ``make bench`` (``python -m bench``) runs every ``bench/bench_*.py`` module's ``main()``.

Speed is measured here, never asserted in tests: timings depend on the machine and on what else runs.
"""
