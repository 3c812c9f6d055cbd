"""The local runner: each graph node as a supervised ``seldon-core-microservice`` process
(``supervisor``, ``process``, ``ports``), what to start for a node (``launch``), and the
in-process alternative (``inprocess``)."""
