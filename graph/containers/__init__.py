"""The project's image run by a container engine: the pod spec as engine options
(``podspec``), the Docker API of dockerd or Podman (``engine``), and the ``containers``
runtime of ``seldon-graph serve`` (``pods``, ``node``, ``launcher``)."""
