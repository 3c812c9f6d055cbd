"""Build a ``kubernetes.client.ApiClient`` from a kubeconfig (``--kubeconfig``,
``--context``) or, inside a pod, from the service account; and pick the namespace."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from model.errors import ConfigError

SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


@dataclass(frozen=True)
class ClusterSettings:
    """Where and how to reach the cluster; built once by the CLI."""

    kubeconfig: str | None = None  # None: $KUBECONFIG or ~/.kube/config, else in-cluster
    context: str | None = None
    namespace: str | None = None  # --namespace (wins over the manifest and the context)
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 30.0

    @property
    def request_timeout(self) -> tuple[float, float]:
        return (self.connect_timeout_s, self.read_timeout_s)


@dataclass(frozen=True)
class Connection:
    api: Any  # kubernetes.client.ApiClient
    context_namespace: str | None  # the kubeconfig context's (or service account's) namespace
    host: str


def _kubeconfig_path(settings: ClusterSettings, default_location: str) -> str | None:
    if settings.kubeconfig:
        if not Path(settings.kubeconfig).is_file():
            raise ConfigError(f"--kubeconfig {settings.kubeconfig}: no such file")
        return settings.kubeconfig
    default = os.path.expanduser(default_location.split(os.pathsep)[0])
    return default if Path(default).is_file() else None


def connect(settings: ClusterSettings) -> Connection:
    """An API client for the chosen context (or in-cluster), without contacting the server."""
    from kubernetes import client, config  # imported here: it takes a while
    from kubernetes.config.config_exception import ConfigException

    configuration = client.Configuration()
    configuration.retries = 1  # fail fast when nothing listens
    path = _kubeconfig_path(settings, config.KUBE_CONFIG_DEFAULT_LOCATION)
    try:
        if path is None:
            if settings.context:
                raise ConfigError(f"--context {settings.context}: no kubeconfig file found")
            config.load_incluster_config(client_configuration=configuration)
            namespace = (
                SERVICE_ACCOUNT_NAMESPACE.read_text().strip()
                if SERVICE_ACCOUNT_NAMESPACE.is_file()
                else None
            )
        else:
            config.load_kube_config(
                config_file=path,
                context=settings.context,
                client_configuration=configuration,
                persist_config=False,
            )
            contexts, active = config.list_kube_config_contexts(config_file=path)
            chosen = (
                next((c for c in contexts if c["name"] == settings.context), None)
                if settings.context
                else active
            )
            namespace = ((chosen or {}).get("context") or {}).get("namespace")
    except ConfigException as exc:
        where = f"kubeconfig {path}" if path else "in-cluster configuration"
        raise ConfigError(f"cannot use the {where}: {exc}") from exc
    return Connection(client.ApiClient(configuration), namespace, configuration.host)


def pick_namespace(
    settings: ClusterSettings, manifest_namespace: str | None, context_namespace: str | None
) -> str:
    """``--namespace``, else metadata.namespace, else the context's, else ``default``."""
    return settings.namespace or manifest_namespace or context_namespace or "default"
