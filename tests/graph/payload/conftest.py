"""The payload tests need no shared fixtures: each builds its messages in place."""
