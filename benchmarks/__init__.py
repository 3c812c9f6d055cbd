"""Closed-loop benchmarks: the graph against bare Seldon, MLServer and the raw model."""
