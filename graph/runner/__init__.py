"""The local runner: what to run for each graph node (``plan``), how to start it
(``launch``: command and environment), each node as a supervised ``seldon-core-microservice``
process (``supervisor``, ``process``, ``ports``), and the in-process alternative
(``inprocess``)."""
