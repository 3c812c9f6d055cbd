"""The one error this standard-library tool raises (it runs before the virtualenv exists,
so it cannot use the project's ``model.errors``, which imports seldon-core)."""


class ClusterError(RuntimeError):
    """Building, starting or talking to the test API server failed; the message says how."""
