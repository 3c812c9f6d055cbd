"""The ``kserve`` peer scenario."""
