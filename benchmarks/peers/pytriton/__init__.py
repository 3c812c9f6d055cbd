"""The ``pytriton`` peer scenario."""
