"""The local Seldon gateway: REST (``rest``) and gRPC (``grpc``) front ends around a
transport-free core (``dispatch``), traffic split and shadow (``traffic``), Prometheus
metrics (``metrics``), and the wiring of deployments to executors to servers (``app``)."""
