"""Tests of ``model/seldon/``: the adaptations of seldon-core 1.17.1 and the message codec."""
