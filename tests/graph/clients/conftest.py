"""The node-client tests share no fixtures beyond the session-wide ones (``log_dir``):
the module starts its own toy node processes."""
