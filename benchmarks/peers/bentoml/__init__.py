"""BentoML 1.4 services of the ``bentoml`` and ``bentoml_graph`` scenarios (``service.py``)."""
