"""Send SeldonDeployments to a Kubernetes cluster with the official ``kubernetes`` client.

- :mod:`graph.k8s.client`: build an ``ApiClient`` (kubeconfig or in-cluster) and pick the
  namespace.
- :mod:`graph.k8s.apply`: create-or-replace with server-side dry run (and the names
  callers import).
- :mod:`graph.k8s.traffic`: the traffic-only JSON patch.
- :mod:`graph.k8s.cluster`: the API calls; :mod:`graph.k8s.errors`: their errors;
  :mod:`graph.k8s.retry`: conflict detection and retries; :mod:`graph.k8s.result`: the
  object sent and the outcome reported.
"""
