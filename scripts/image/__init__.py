"""The project image: build it (``build``), map a pod spec to engine options
(``podspec``) and run it through the Docker API (``engine``)."""
