"""Training of the default models (``python -m model.training``): the digits data set
(``data``) and the training run that writes verified artifacts (``train``). Serving never
imports this package."""
