"""A real Kubernetes API server (v1.20.2) for the test suite, standard library only.

- ``build()``: kube-apiserver built once from Debian bookworm's ``kubernetes`` source
  package and cached outside the work tree (``build.py``).
- ``start()``: etcd + kube-apiserver on loopback ports with TLS, token and RBAC
  authentication and the SeldonDeployment CRD; ``LocalCluster.stop()`` ends both
  (``cluster.py``, ``pki.py``, ``crd.py``).

CLI: ``python -m scripts.kube_apiserver build|path|start`` from the repository root.
"""

from .build import binary_path, build
from .cluster import LocalCluster, start
from .crd import default_schema, install_crd
from .errors import ClusterError

__all__ = [
    "ClusterError",
    "LocalCluster",
    "binary_path",
    "build",
    "default_schema",
    "install_crd",
    "start",
]
