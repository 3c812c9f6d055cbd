"""Conformance with Seldon Core 1.17.1: one test per behaviour, each citing its source."""
