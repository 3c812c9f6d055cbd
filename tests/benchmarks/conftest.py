"""Tests of ``benchmarks/``: the load generators, scenarios and report, on small local
servers (the benchmarks themselves run with ``make bench``, never in the test suite)."""
