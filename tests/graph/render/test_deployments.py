"""The Deployment of each componentSpec: pod defaults, labels, the env and probes of node
containers, storage initializers and the executor, compared with the operator's code."""

from __future__ import annotations

import base64
import json

from tests.graph.render.conftest import (
    by_name,
    container,
    env_of,
    node,
    objects,
    one_model,
    pod_of,
    predictor,
    sdep,
)


def test_pod_defaults_strategy_and_podinfo_volume() -> None:
    """seldondeployment_controller.go createDeploymentWithoutEngine: restart/DNS/scheduler
    defaults, 20 s grace, DEFAULT_USER_ID security context, the seldon-podinfo downward
    API volume, and maxUnavailable serialised as 0 (IntOrString without Type=String)."""
    deploy = objects(one_model())["Deployment/sd-p-0-m"]
    pod = deploy["spec"]["template"]["spec"]
    assert (pod["restartPolicy"], pod["dnsPolicy"], pod["schedulerName"]) == (
        "Always",
        "ClusterFirst",
        "default-scheduler",
    )
    assert pod["terminationGracePeriodSeconds"] == 20
    assert pod["securityContext"] == {"runAsUser": 8888}
    podinfo = by_name(pod["volumes"], "seldon-podinfo")["downwardAPI"]
    assert podinfo["items"][0]["fieldRef"]["fieldPath"] == "metadata.annotations"
    assert deploy["spec"]["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": 0},
    }


def test_replicas_come_from_the_most_specific_setting_unless_autoscaled() -> None:
    """createComponents: componentSpec replicas, else predictor, else spec; none with an
    hpaSpec (createHpa makes the HPA instead)."""
    doc = one_model()
    doc["spec"]["replicas"] = 5
    doc["spec"]["predictors"][0]["replicas"] = 3
    assert objects(doc)["Deployment/sd-p-0-m"]["spec"]["replicas"] == 3
    doc["spec"]["predictors"][0]["componentSpecs"][0]["replicas"] = 2
    assert objects(doc)["Deployment/sd-p-0-m"]["spec"]["replicas"] == 2
    doc["spec"]["predictors"][0]["componentSpecs"][0]["hpaSpec"] = {
        "maxReplicas": 4,
        "minReplicas": 1,
    }
    rendered = objects(doc)
    assert "replicas" not in rendered["Deployment/sd-p-0-m"]["spec"]
    hpa = rendered["HorizontalPodAutoscaler/sd-p-0-m"]["spec"]
    assert hpa["scaleTargetRef"]["name"] == "sd-p-0-m" and hpa["maxReplicas"] == 4


def test_labels_and_selector_of_the_deployment_and_its_pods() -> None:
    """createDeploymentWithoutEngine, addLabelsToDeployment (labels.go),
    createContainerService and addEngineToDeployment: the labels each step adds."""
    deploy = objects(one_model())["Deployment/sd-p-0-m"]
    labels = deploy["metadata"]["labels"]
    assert labels["seldon-deployment-id"] == "sd" and labels["app"] == "sd-p-0-m"
    assert labels["version"] == "p" and labels["seldon.io/model"] == "true"
    assert labels["app.kubernetes.io/managed-by"] == "seldon-core"
    assert labels["seldon-deployment-contains-svcorch"] == "true"
    assert deploy["spec"]["selector"]["matchLabels"] == {
        "seldon-deployment-id": "sd",
        "seldon-app-svc-m": "sd-p-m",
        "seldon-app": "sd-p",
    }
    pod_labels = deploy["spec"]["template"]["metadata"]["labels"]
    assert "seldon-deployment-contains-svcorch" not in pod_labels
    assert pod_labels["seldon-app"] == "sd-p" and pod_labels["seldon-app-svc-m"] == "sd-p-m"


def test_pod_annotations_come_from_spec_and_predictor_never_from_metadata() -> None:
    """createDeploymentWithoutEngine copies spec.annotations, predictor annotations and the
    componentSpec's metadata annotations; metadata.annotations are not copied, so the
    executor (reading /etc/podinfo/annotations) never sees them."""
    doc = one_model()
    doc["metadata"]["annotations"] = {"seldon.io/rest-timeout": "1"}
    doc["spec"]["annotations"] = {"seldon.io/grpc-timeout": "2"}
    doc["spec"]["predictors"][0]["annotations"] = {"seldon.io/rest-timeout": "3"}
    pod = objects(doc)["Deployment/sd-p-0-m"]["spec"]["template"]["metadata"]["annotations"]
    assert pod["seldon.io/rest-timeout"] == "3" and pod["seldon.io/grpc-timeout"] == "2"
    assert pod["prometheus.io/path"] == "/prometheus" and pod["prometheus.io/scrape"] == "true"


def test_node_container_env_in_the_operators_order() -> None:
    """createContainerService, addPortEnvs, addModelEnvs: ports, parameters (Go's
    name/value/type order), model URI, identities, then the metrics variables."""
    params = [{"name": "k", "type": "INT", "value": "3"}]
    doc = one_model(parameters=params, modelUri="s3://b/m")
    c = by_name(pod_of(objects(doc), "sd-p-0-m")["containers"], "m")
    names = [e["name"] for e in c["env"]]
    assert names == [
        "PREDICTIVE_UNIT_SERVICE_PORT", "PREDICTIVE_UNIT_HTTP_SERVICE_PORT", "MLSERVER_HTTP_PORT",
        "PREDICTIVE_UNIT_GRPC_SERVICE_PORT", "MLSERVER_GRPC_PORT", "PREDICTIVE_UNIT_PARAMETERS",
        "MLSERVER_MODEL_URI", "PREDICTIVE_UNIT_ID", "MLSERVER_MODEL_NAME", "PREDICTIVE_UNIT_IMAGE",
        "PREDICTOR_ID", "PREDICTOR_LABELS", "SELDON_DEPLOYMENT_ID", "SELDON_EXECUTOR_ENABLED",
        "PREDICTIVE_UNIT_METRICS_SERVICE_PORT", "PREDICTIVE_UNIT_METRICS_ENDPOINT",
        "MLSERVER_METRICS_PORT", "MLSERVER_METRICS_ENDPOINT",
    ]  # fmt: skip
    env = env_of(c)
    assert env["PREDICTIVE_UNIT_PARAMETERS"] == '[{"name":"k","value":"3","type":"INT"}]'
    assert env["PREDICTOR_LABELS"] == '{"version":"p"}'
    assert env["PREDICTIVE_UNIT_METRICS_SERVICE_PORT"] == "6000"
    assert env["MLSERVER_MODEL_URI"] == "/mnt/models"


def test_a_container_setting_an_operator_variable_loses_its_whole_env() -> None:
    """operator/utils/utils.go SetEnvVar(override=false) returns nil when the name exists:
    the container's env list is emptied, the operator then appends the rest."""
    own = [
        {"name": "MODEL_NAME", "value": "x.Y"},
        {"name": "PREDICTIVE_UNIT_PARAMETERS", "value": "[]"},
    ]
    doc = sdep(
        predictor(
            "p",
            node("m", parameters=[{"name": "k", "type": "INT", "value": "1"}]),
            [container("m", env=own)],
        )
    )
    env = env_of(by_name(pod_of(objects(doc), "sd-p-0-m")["containers"], "m"))
    assert "MODEL_NAME" not in env and "PREDICTIVE_UNIT_PARAMETERS" not in env
    assert "PREDICTIVE_UNIT_HTTP_SERVICE_PORT" not in env  # added before, wiped too
    assert env["PREDICTIVE_UNIT_ID"] == "m"


def test_probes_and_ports_follow_the_transport() -> None:
    """createContainerService: TCP probes on the HTTP port (REST) or the gRPC port
    (transport grpc), liveness after 60 s, readiness after 20 s; a preStop sleep."""
    rest = by_name(pod_of(objects(one_model()), "sd-p-0-m")["containers"], "m")
    assert rest["livenessProbe"]["tcpSocket"]["port"] == 9000
    assert rest["livenessProbe"]["initialDelaySeconds"] == 60
    assert rest["readinessProbe"]["initialDelaySeconds"] == 20
    assert rest["lifecycle"]["preStop"]["exec"]["command"] == ["/bin/sh", "-c", "/bin/sleep 10"]
    assert [p["name"] for p in rest["ports"]] == ["metrics", "http", "grpc"]
    doc = one_model()
    doc["spec"]["transport"] = "grpc"
    grpc = by_name(pod_of(objects(doc), "sd-p-0-m")["containers"], "m")
    assert grpc["readinessProbe"]["tcpSocket"]["port"] == 9500
    assert env_of(grpc)["PREDICTIVE_UNIT_SERVICE_PORT"] == "9500"


def test_pvc_model_uri_adds_the_claim_volume_an_emptydir_and_an_init_container() -> None:
    """model_initializer_injector.go InjectModelInitializer: a pvc:// URI mounts the claim
    as kfserving-pvc-source at /mnt/pvc and the initializer copies /mnt/pvc/<path> into
    the <container>-provision-location emptyDir at /mnt/models."""
    pod = pod_of(objects(one_model(modelUri="pvc://claim/v1/x")), "sd-p-0-m")
    assert by_name(pod["volumes"], "kfserving-pvc-source") == {
        "name": "kfserving-pvc-source",
        "persistentVolumeClaim": {"claimName": "claim"},
    }
    assert by_name(pod["volumes"], "m-provision-location") == {
        "name": "m-provision-location",
        "emptyDir": {},
    }
    init = by_name(pod["initContainers"], "m-model-initializer")
    assert init["args"] == ["/mnt/pvc/v1/x", "/mnt/models"]
    assert init["image"] == "seldonio/rclone-storage-initializer:1.17.1"
    assert init["resources"]["limits"] == {"cpu": "1", "memory": "1Gi"}
    mounts = {m["name"]: m for m in by_name(pod["containers"], "m")["volumeMounts"]}
    assert mounts["kfserving-pvc-source"] == {
        "name": "kfserving-pvc-source",
        "mountPath": "/mnt/pvc",
        "readOnly": True,
    }
    assert mounts["m-provision-location"]["mountPath"] == "/mnt/models"


def test_other_model_uris_get_no_claim_volume() -> None:
    """InjectModelInitializer: only pvc:// adds a claim; the URI is passed as is."""
    pod = pod_of(objects(one_model(modelUri="s3://bucket/m", envSecretRefName="creds")), "sd-p-0-m")
    assert [v["name"] for v in pod["volumes"]] == ["seldon-podinfo", "m-provision-location"]
    init = pod["initContainers"][0]
    assert init["args"] == ["s3://bucket/m", "/mnt/models"]
    assert init["envFrom"] == [{"secretRef": {"name": "creds"}}]


def test_executor_container_args_ports_probes_and_engine_predictor() -> None:
    """seldondeployment_engine.go createExecutorContainer / createEngineContainer:
    arguments, the metrics port on the HTTP port, /ready and /live probes, user 8888, and
    ENGINE_PREDICTOR = base64 JSON of the defaulted predictor with replicas 0."""
    doc = one_model()
    doc["spec"]["annotations"] = {"seldon.io/engine-foo-bar": "1"}
    pod = pod_of(objects(doc), "sd-p-0-m")
    assert [c["name"] for c in pod["containers"]] == ["m", "seldon-container-engine"]
    executor = pod["containers"][1]
    assert executor["image"] == "docker.io/seldonio/seldon-core-executor:1.17.1"
    args = executor["args"]
    assert args[:6] == ["--sdep", "sd", "--namespace", "ns", "--predictor", "p"]
    assert (
        args[args.index("--http_port") + 1] == "8000" and args[-1] == "--full_health_checks=false"
    )
    assert [(p["name"], p["containerPort"]) for p in executor["ports"]] == [
        ("http", 8000),
        ("metrics", 8000),
        ("grpc", 5001),
    ]
    assert executor["readinessProbe"]["httpGet"] == {
        "port": 8000,
        "path": "/ready",
        "scheme": "HTTP",
    }
    assert executor["securityContext"] == {"runAsUser": 8888, "allowPrivilegeEscalation": False}
    env = env_of(executor)
    assert (
        env["FOO_BAR"] == "1" and env["REQUEST_LOGGER_DEFAULT_ENDPOINT"] == "http://default-broker"
    )
    engine = json.loads(base64.b64decode(env["ENGINE_PREDICTOR"]))
    assert engine["replicas"] == 0 and "traffic" not in engine
    assert engine["graph"]["endpoint"] == {
        "service_host": "localhost",
        "service_port": 9000,
        "httpPort": 9000,
        "grpcPort": 9500,
    }
    assert engine["componentSpecs"][0]["metadata"] == {"creationTimestamp": None}


def test_the_executor_joins_the_pod_of_the_first_node_in_componentspecs_0() -> None:
    """createComponents + GetEnginePredictiveUnit: the executor goes to the Deployment of
    the first node (pre-order) whose container is in componentSpecs[0]."""
    graph = node("a", "TRANSFORMER", node("b"))
    rendered = objects(sdep(predictor("p", graph, [container("b")], [container("a")])))
    assert "seldon-container-engine" in [
        c["name"] for c in pod_of(rendered, "sd-p-0-b")["containers"]
    ]
    assert "seldon-container-engine" not in [
        c["name"] for c in pod_of(rendered, "sd-p-1-a")["containers"]
    ]
