"""The ``torchserve`` peer scenario."""
