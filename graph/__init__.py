"""The SeldonDeployment graph: validation, a local runner that behaves like Seldon's
executor and ingress, and canary rollout tooling."""
