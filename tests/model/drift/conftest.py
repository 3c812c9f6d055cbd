"""Tests of ``model/drift/``: the component, its instances, worker and MMD test."""
