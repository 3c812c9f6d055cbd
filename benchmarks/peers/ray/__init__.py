"""Ray Serve 2.60 applications of the ``ray_serve`` and ``ray_graph`` scenarios."""
