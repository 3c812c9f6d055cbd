"""The API server's rules on rendered objects: each check can fail, and says where."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from graph.render import render_objects
from graph.render.checks import ERROR, WARNING, ObjectFinding, check_object, check_rendered
from graph.render.objects import RenderedObject
from graph.render.pitfalls import pitfall_findings
from graph.render.resources import quantity
from tests.graph.render.conftest import container, node, one_model, predictor, sdep


def pod(**spec: Any) -> RenderedObject:
    """A minimal valid Deployment around ``spec`` (containers default to one)."""
    spec.setdefault("containers", [{"name": "c", "image": "i"}])
    body = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d"},
        "spec": {
            "selector": {"matchLabels": {"a": "b"}},
            "template": {"metadata": {"labels": {"a": "b"}}, "spec": spec},
        },
    }
    return RenderedObject(body, {"": "spec.predictors[0].componentSpecs[0]"})


def found(obj: RenderedObject) -> list[tuple[str, str, str]]:
    return [(f.severity, f.path, f.message) for f in check_object(obj)]


def test_a_valid_deployment_has_no_findings() -> None:
    assert found(pod()) == []


def test_schema_rejects_unknown_fields_strictly() -> None:
    """kubernetes-validate strict: additionalProperties are errors."""
    obj = pod(containers=[{"name": "c", "image": "i", "gpus": 1}])
    ((severity, path, message),) = found(obj)
    assert severity == ERROR and path == "spec.template.spec.containers[0]"
    assert "'gpus' was unexpected" in message


def test_duplicate_volume_names_are_errors_at_the_second_one() -> None:
    volumes = [{"name": "v", "emptyDir": {}}, {"name": "v", "emptyDir": {}}]
    assert found(pod(volumes=volumes)) == [
        (ERROR, "spec.template.spec.volumes[1].name", "Duplicate value: 'v'")
    ]


def test_container_names_are_unique_across_init_and_regular_containers() -> None:
    obj = pod(initContainers=[{"name": "c", "image": "i"}])
    assert found(obj) == [
        (ERROR, "spec.template.spec.initContainers[0].name", "Duplicate value: 'c'")
    ]


def test_port_names_must_be_iana_names_unique_per_container() -> None:
    ports = [
        {"name": "http", "containerPort": 1},
        {"name": "http", "containerPort": 2},
        {"name": "x" * 16, "containerPort": 3},
    ]
    paths = {
        (s, p) for s, p, _ in found(pod(containers=[{"name": "c", "image": "i", "ports": ports}]))
    }
    assert (ERROR, "spec.template.spec.containers[0].ports[1].name") in paths
    assert (ERROR, "spec.template.spec.containers[0].ports[2].name") in paths


def test_duplicate_env_names_and_ports_are_only_warnings() -> None:
    """pkg/api/pod/warnings.go: "hides previous definition", "duplicate port definition"."""
    env = [
        {"name": "A", "value": "1"},
        {"name": "A", "value": "2"},
        {"name": "A", "value": "$(A)x"},
    ]
    ports = [{"containerPort": 80, "name": "a"}, {"containerPort": 80, "name": "b"}]
    c = {"name": "c", "image": "i", "env": env, "ports": ports}
    at = "spec.template.spec.containers[0]"
    assert found(pod(containers=[c])) == [
        (
            WARNING,
            f"{at}.env[1]",
            "hides previous definition of 'A', which may be dropped when using apply",
        ),
        (WARNING, f"{at}.ports[1]", f"duplicate port definition with {at}.ports[0]"),
    ]


def test_mounts_must_name_a_volume_and_paths_be_unique() -> None:
    mounts = [{"name": "v", "mountPath": "/a"}, {"name": "w", "mountPath": "/a"}]
    obj = pod(
        volumes=[{"name": "v", "emptyDir": {}}],
        containers=[{"name": "c", "image": "i", "volumeMounts": mounts}],
    )
    paths = [p for _, p, _ in found(obj)]
    assert paths == [
        "spec.template.spec.containers[0].volumeMounts[1].mountPath",
        "spec.template.spec.containers[0].volumeMounts[1].name",
    ]


def test_label_values_over_63_characters_are_errors() -> None:
    obj = pod()
    obj.body["metadata"]["labels"] = {"version": "v" * 64}
    ((severity, path, message),) = found(obj)
    assert (severity, path) == (ERROR, "metadata.labels[version]") and "no more than 63" in message


def test_a_service_name_must_start_with_a_letter() -> None:
    """ValidateServiceName is a DNS-1035 label: a SeldonDeployment named 1digits gives
    Services named 1digits-<predictor>, which the API server refuses."""
    doc = sdep(predictor("p", node("m"), [container("m")]), name="1digits")
    findings = check_rendered(render_objects(doc))
    bad = {f.ref for f in findings if f.severity == ERROR and f.path == "metadata.name"}
    assert bad == {"Service/1digits-p-m", "Service/1digits-p"}
    assert all(f.ref.startswith("Service/") for f in findings if f.severity == ERROR)


def test_a_long_container_name_makes_an_invalid_selector_label_key() -> None:
    """createContainerService labels the Deployment seldon-app-svc-<container>: a label key
    whose name part is over 63 characters once the container name is over 48."""
    name = "c" * 49
    findings = check_rendered(render_objects(sdep(predictor("p", node(name), [container(name)]))))
    keys = {f.path for f in findings if f.severity == ERROR}
    assert f"metadata.labels[seldon-app-svc-{name}]" in keys
    assert f"spec.selector.matchLabels[seldon-app-svc-{name}]" in keys


def test_findings_trace_injected_volumes_to_the_node_model_uri() -> None:
    graph = node("a", "TRANSFORMER", node("b", modelUri="pvc://c/b"), modelUri="pvc://c/a")
    findings = check_rendered(
        render_objects(sdep(predictor("p", graph, [container("a"), container("b")])))
    )
    (dup,) = [f for f in findings if f.severity == ERROR]
    assert dup.ref == "Deployment/sd-p-0-a-b"
    assert dup.path.startswith("spec.template.spec.volumes[") and dup.path.endswith("].name")
    assert dup.source == "spec.predictors[0].graph.children[0].modelUri"
    assert "kfserving-pvc-source" in dup.message


def test_pitfalls_env_wipe_and_timeouts_that_never_reach_the_executor() -> None:
    """utils.SetEnvVar empties a container's env; executor/k8s/annotation.go reads pod
    annotations (seldon.io/rest-timeout, seldon.io/grpc-timeout) only."""
    doc = one_model()
    doc["spec"]["predictors"][0]["componentSpecs"][0]["spec"]["containers"][0]["env"] = [
        {"name": "MLSERVER_HTTP_PORT", "value": "1"}
    ]
    doc["metadata"]["annotations"] = {
        "seldon.io/rest-timeout": "5",
        "seldon.io/grpc-read-timeout": "5",
    }
    findings = pitfall_findings(doc)
    assert [(f.severity, f.path) for f in findings] == [
        (ERROR, "spec.predictors[0].componentSpecs[0].spec.containers[0].env"),
        (WARNING, "metadata.annotations[seldon.io/rest-timeout]"),
        (WARNING, "metadata.annotations[seldon.io/grpc-read-timeout]"),
    ]
    # A copy in spec.annotations reaches the executor; the metadata one still does nothing.
    doc["spec"]["annotations"] = {"seldon.io/rest-timeout": "5"}
    paths = {f.path for f in pitfall_findings(doc)}
    assert "metadata.annotations[seldon.io/rest-timeout]" in paths
    assert "spec.annotations[seldon.io/rest-timeout]" not in paths


def test_a_finding_prints_object_path_and_source() -> None:
    f = ObjectFinding("Deployment/d", "spec.x", "bad", "spec.predictors[0]")
    assert str(f) == "error: Deployment/d: spec.x: bad (from spec.predictors[0])"


def test_quantities_parse_like_kubernetes() -> None:
    assert quantity("500m") == Fraction(1, 2)
    assert quantity("1Gi") == 1024**3 and quantity("1G") == 10**9
    assert quantity("1e3") == 1000 and quantity("0.5") == Fraction(1, 2)
    assert quantity("1 GB") is None and quantity("one") is None


def test_requests_above_limits_and_uneven_gpus_are_refused() -> None:
    """ValidateResourceRequirements: requests <= limits; extended resources (nvidia.com/gpu)
    whole numbers with requests == limits, and a limit whenever requested."""
    resources = {
        "requests": {"cpu": "2", "memory": "1Gi", "nvidia.com/gpu": 1, "example.com/fpga": 1},
        "limits": {"cpu": "1500m", "memory": "1024Mi", "nvidia.com/gpu": 2},
    }
    obj = pod(containers=[{"name": "c", "image": "i", "resources": resources}])
    at = "spec.template.spec.containers[0].resources"
    assert [(s, p) for s, p, _ in found(obj)] == [
        (ERROR, f"{at}.limits"),
        (ERROR, f"{at}.requests[cpu]"),
        (ERROR, f"{at}.requests[nvidia.com/gpu]"),
    ]
    ok = {
        "requests": {"cpu": "1", "nvidia.com/gpu": 1},
        "limits": {"cpu": "1000m", "nvidia.com/gpu": "1"},
    }
    assert found(pod(containers=[{"name": "c", "image": "i", "resources": ok}])) == []


def test_negative_replicas_no_image_port_zero_and_an_unknown_service_type_are_refused() -> None:
    deployment = pod(containers=[{"name": "c"}])
    deployment.body["spec"]["replicas"] = -1
    assert {(f.path, f.message) for f in check_object(deployment) if f.severity == ERROR} == {
        ("spec.replicas", "Invalid value: -1: must be greater than or equal to 0"),
        ("spec.template.spec.containers[0].image", "Required value"),
    }
    service = RenderedObject(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "s"},
            "spec": {"ports": [{"name": "http", "port": 0}], "type": "Magic"},
        }
    )
    assert [f.path for f in check_object(service)] == ["spec.ports[0].port", "spec.type"]
