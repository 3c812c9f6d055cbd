"""``python -m model.training --out artifacts``: see ``model.training.train``."""

import sys

from model.training.train import main

sys.exit(main())
