"""CLI: ``python -m scripts.kube_apiserver build|start`` (see the package docstring)."""

import sys

from .cli import main

sys.exit(main())
