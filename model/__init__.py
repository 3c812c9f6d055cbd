"""Seldon Core v1 components for a PyTorch digit classifier.

Importing this package is cheap: torch, alibi-detect and CUDA are touched only in the
components' ``load()`` (after Seldon's Gunicorn/gRPC workers fork).
"""
