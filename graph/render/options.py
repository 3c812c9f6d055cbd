"""The operator's settings that shape what it renders.

Seldon Core 1.17.1's operator reads them from its own environment, which its Helm chart
(``helm-charts/seldon-core-operator/values.yaml`` and the ``seldon-config`` ConfigMap at
tag v1.17.1) fills in. The defaults here are that chart's defaults with Istio on, as
docs/deploy.md installs it.
"""

from __future__ import annotations

from dataclasses import dataclass

ISTIO = "istio"
AMBASSADOR = "ambassador"
NO_INGRESS = "none"
INGRESSES = (ISTIO, AMBASSADOR, NO_INGRESS)


@dataclass(frozen=True)
class RenderOptions:
    """What the operator deployment was installed with (its env vars in brackets)."""

    # Ingress: Istio VirtualService/DestinationRules (ISTIO_ENABLED), Ambassador v2
    # Mappings (AMBASSADOR_ENABLED, AMBASSADOR_VERSION=v2) or neither.
    ingress: str = ISTIO
    istio_gateway: str = "istio-system/seldon-gateway"  # ISTIO_GATEWAY
    istio_tls_mode: str = ""  # ISTIO_TLS_MODE
    ambassador_single_namespace: bool = False  # AMBASSADOR_SINGLE_NAMESPACE
    # The executor (service orchestrator) container.
    executor_image: str = "docker.io/seldonio/seldon-core-executor:1.17.1"
    executor_pull_policy: str = "IfNotPresent"  # EXECUTOR_CONTAINER_IMAGE_PULL_POLICY
    executor_http_port: int = 8000  # EXECUTOR_SERVER_PORT
    executor_grpc_port: int = 5001  # EXECUTOR_SERVER_GRPC_PORT (unset: the default)
    executor_user: int | None = 8888  # EXECUTOR_CONTAINER_USER
    executor_service_account: str = "default"  # EXECUTOR_CONTAINER_SERVICE_ACCOUNT_NAME
    executor_cpu: str = "500m"  # EXECUTOR_DEFAULT_CPU_REQUEST and _LIMIT
    executor_memory: str = "512Mi"  # EXECUTOR_DEFAULT_MEMORY_REQUEST and _LIMIT
    executor_full_health_checks: bool = False  # EXECUTOR_FULL_HEALTH_CHECKS
    request_logger_endpoint: str = "http://default-broker"
    request_logger_queue_size: str = "10000"
    request_logger_write_timeout_ms: str = "2000"
    prometheus_path: str = "/prometheus"  # EXECUTOR_PROMETHEUS_PATH
    # Ports handed to the graph's containers (PREDICTIVE_UNIT_*_SERVICE_PORT).
    first_http_port: int = 9000
    first_grpc_port: int = 9500
    first_metrics_port: int = 6000
    metrics_port_name: str = "metrics"  # PREDICTIVE_UNIT_METRICS_PORT_NAME
    # Pod securityContext.runAsUser for pods that set none (DEFAULT_USER_ID).
    default_user_id: int | None = 8888
    # The storage initializer (seldon-config's storageInitializer).
    storage_initializer_image: str = "seldonio/rclone-storage-initializer:1.17.1"
    storage_initializer_cpu_request: str = "100m"
    storage_initializer_cpu_limit: str = "1"
    storage_initializer_memory_request: str = "100Mi"
    storage_initializer_memory_limit: str = "1Gi"
    default_env_secret_ref_name: str = ""  # PREDICTIVE_UNIT_DEFAULT_ENV_SECRET_REF_NAME
    deployment_name_as_prefix: bool = False  # DEPLOYMENT_NAME_AS_PREFIX
