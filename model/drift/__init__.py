"""The drift detector node: ``DriftDetector`` (the Seldon component, ``component``), the
cheap request-path reading of its inputs (``instances``), the bounded buffer and background
window tests (``worker``) and the alibi-detect MMD test on encoded windows (``mmd``).

``model.drift.DriftDetector`` is the ``MODEL_NAME`` manifests use: public API.
"""

from model.drift.component import DriftDetector

__all__ = ["DriftDetector"]
