"""The local Seldon gateway: REST (``rest``) and gRPC (``grpc``) front ends around a
transport-free core (``dispatch``), traffic split and shadow (``traffic``), Prometheus
metrics (``metrics``), live weights from the manifest (``reload``) and the admin endpoint
(``admin``), and the wiring of deployments to executors to servers (``app``)."""
