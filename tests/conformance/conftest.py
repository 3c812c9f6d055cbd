"""Conformance tests: behaviours pinned to Seldon Core 1.17.1 sources (one file per area)."""
