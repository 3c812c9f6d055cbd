"""Canary rollouts as file edits (GitOps): change predictor weights, promote, roll back.

- :mod:`graph.canary.weights`: pure operations on a parsed SeldonDeployment.
- :mod:`graph.canary.status`: the ``canary status`` rows and table.
- :mod:`graph.canary.yamlfile`: round-trip loading (layout detected) and atomic writes.
- :mod:`graph.canary.yamledit`: round-trip rendering that changes only what changed.
- :mod:`graph.canary.files`: plan (validate) and commit an edit of a manifest file.
- :mod:`graph.canary.values`: the same operations on the Helm chart's values file.
"""
