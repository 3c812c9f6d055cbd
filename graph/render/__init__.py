"""What Seldon Core 1.17.1's operator creates from a SeldonDeployment, and the checks
the Kubernetes API server would run on it.

``render(doc, options)`` returns the Deployments, Services, HPAs, PDBs and ingress
objects; ``render_objects`` also says which part of the SeldonDeployment each part came
from, for ``checks.check_rendered``.
"""

from graph.render.options import RenderOptions
from graph.render.render import render, render_objects

__all__ = ["RenderOptions", "render", "render_objects"]
