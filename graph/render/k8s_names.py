"""The name formats the Kubernetes API server enforces (the ``IsDNS1123Label``,
``IsDNS1123Subdomain``, ``IsDNS1035Label``, ``IsQualifiedName``, ``IsValidLabelValue``,
``IsValidPortName`` and ``IsEnvVarName`` rules of k8s.io/apimachinery's
``pkg/util/validation``). Each returns the problems, empty when the name is valid."""

from __future__ import annotations

import re

_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS1123_LABEL = re.compile(rf"^{_LABEL}$")
DNS1123_SUBDOMAIN = re.compile(rf"^{_LABEL}(\.{_LABEL})*$")
DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
PORT_NAME = re.compile(r"^[-a-z0-9]+$")
ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
LABEL_MAX = 63
SUBDOMAIN_MAX = 253
PORT_NAME_MAX = 15


def _long(name: str, limit: int) -> list[str]:
    return (
        [f"must be no more than {limit} characters (is {len(name)})"] if len(name) > limit else []
    )


def dns1123_label(name: str) -> list[str]:
    bad = [] if DNS1123_LABEL.match(name) else [
        "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or "
        "'-', and must start and end with an alphanumeric character"
    ]  # fmt: skip
    return _long(name, LABEL_MAX) + bad


def dns1123_subdomain(name: str) -> list[str]:
    bad = [] if DNS1123_SUBDOMAIN.match(name) else [
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
        "'-' or '.', and must start and end with an alphanumeric character"
    ]  # fmt: skip
    return _long(name, SUBDOMAIN_MAX) + bad


def dns1035_label(name: str) -> list[str]:
    bad = [] if DNS1035_LABEL.match(name) else [
        "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start "
        "with an alphabetic character, and end with an alphanumeric character"
    ]  # fmt: skip
    return _long(name, LABEL_MAX) + bad


def qualified_name(key: str) -> list[str]:
    """A label or annotation key: ``[prefix/]name``, prefix a DNS subdomain."""
    prefix, _, name = key.rpartition("/")
    found = dns1123_subdomain(prefix) if prefix else []
    found += _long(name, LABEL_MAX)
    if not QUALIFIED_NAME.match(name):
        found.append(
            "name part must consist of alphanumeric characters, '-', '_' or '.', and must "
            "start and end with an alphanumeric character"
        )
    return found


def label_value(value: str) -> list[str]:
    bad = [] if LABEL_VALUE.match(value) else [
        "a valid label must be an empty string or consist of alphanumeric characters, '-', "
        "'_' or '.', and must start and end with an alphanumeric character"
    ]  # fmt: skip
    return _long(value, LABEL_MAX) + bad


def port_name(name: str) -> list[str]:
    """IANA_SVC_NAME: at most 15 characters, lowercase letters, digits and ``-``, at
    least one letter, no ``--``, no ``-`` at either end."""
    found = _long(name, PORT_NAME_MAX)
    if not PORT_NAME.match(name):
        found.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if "--" in name:
        found.append("must not contain consecutive hyphens")
    if not re.search(r"[a-z]", name):
        found.append("must contain at least one letter (a-z)")
    if name.startswith("-") or name.endswith("-"):
        found.append("must not begin or end with a hyphen")
    return found


def env_name(name: str) -> list[str]:
    if ENV_NAME.match(name):
        return []
    return ["a valid environment variable name must consist of alphabetic characters, digits, "
            "'_', '-', or '.', and must not start with a digit"]  # fmt: skip
