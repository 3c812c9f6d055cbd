"""Tests of ``model/training/``: the digits data set and the training run."""
