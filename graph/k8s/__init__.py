"""Send SeldonDeployments to a Kubernetes cluster with the official ``kubernetes`` client.

- :mod:`graph.k8s.client`: build an ``ApiClient`` (kubeconfig or in-cluster) and pick the
  namespace.
- :mod:`graph.k8s.apply`: create-or-replace, server-side dry run and the traffic-only
  JSON patch, with clear errors.
"""
