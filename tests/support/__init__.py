"""Helpers of the test suite and the benchmarks (isolated pipelines, consumer lag)."""
