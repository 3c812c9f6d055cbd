"""Project scripts run with ``python -m scripts....`` from the repository root."""
