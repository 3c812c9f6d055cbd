"""Peer serving systems benchmarked next to the graph: BentoML and Ray Serve.

Each peer runs in a virtualenv of its own (``venv.py``) and serves the same weights
(``artifacts/v1``) with the project's own code: ``components.py`` wraps ``model.images``,
``model.inference`` and the drift detector's ``DriftWorker``; the drift window test itself
(alibi-detect, which needs pydantic 1) runs in a helper process of the project's venv
(``window_test.py``). ``scenarios.py`` registers the scenarios with the benchmark.
"""
