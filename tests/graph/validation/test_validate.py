"""``seldon-graph validate``: loading, the CRD schema, the pure validators and the real CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from jsonschema import Draft7Validator

from graph.manifest import ManifestSyntaxError, UnreadableManifest, load_file, loads
from graph.validation import schema as schema_module
from graph.validation import validate_document, validate_file, validate_files
from graph.validation.schema import find_schema, load_schema, schema_findings, yaml_path
from model.errors import ConfigError

ROOT = Path(__file__).resolve().parents[3]
MANIFESTS = Path(__file__).parent / "manifests"
VALID = sorted((MANIFESTS / "valid").iterdir())
CLI = Path(sys.executable).parent / "seldon-graph"
G = "spec.predictors[0].graph"

# Each invalid manifest and the exact YAML paths of the errors it must produce.
INVALID = {
    "traffic-not-100.yaml": {"spec.predictors[*].traffic"},
    "duplicate-predictor-names.yaml": {"spec.predictors[1].name"},
    "two-shadows.yaml": {"spec.predictors[2].shadow"},
    "shadow-only.yaml": {"spec.predictors[0].shadow"},
    "replicas-not-integer.yaml": {"spec.predictors[0].replicas"},
    "missing-graph-name.yaml": {f"{G}.name"},
    "missing-container.yaml": {G},
    "mixed-endpoint-types.yaml": {f"{G}.children[1].endpoint.type"},
    "bad-allowed-values.yaml": {"spec.protocol"},  # and warnings (test_operator_rules.py)
    "single-predictor-half-traffic.yaml": {"spec.predictors[0].traffic", f"{G}.modelUri"},
    "bad-header.yaml": {"apiVersion", "kind", "metadata.name"},
    "bad-core-kinds.yaml": {"", "metadata.name"},  # a Secret and a ServiceAccount
    # Found by rendering what the operator creates: kfserving-pvc-source twice per pod.
    "three-pvc-nodes-in-one-pod.yaml": {
        f"spec.predictors[{i}].graph.children[0]{child}.modelUri"
        for i in (0, 1)
        for child in ("", ".children[0]")
    },
}


def cli(*args: str, cwd: Path = ROOT, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CLI), "validate", *args], cwd=cwd, input=stdin, capture_output=True, text=True
    )


# --- loading --------------------------------------------------------------------------


def test_multi_document_files_skip_empty_documents_and_keep_positions() -> None:
    docs = load_file(MANIFESTS / "valid" / "multi-document.yaml")
    assert [d.index for d in docs] == [1, 3]
    assert [d.body["metadata"]["name"] for d in docs] == ["tabular-a", "tabular-b"]
    assert docs[1].label.endswith("multi-document.yaml:doc 3")


def test_a_single_document_is_labelled_by_its_file_alone() -> None:
    (doc,) = loads("a: 1\n", "x.yaml")
    assert (doc.label, doc.body) == ("x.yaml", {"a": 1})


def test_tab_indented_json_is_read_as_json() -> None:
    (doc,) = load_file(MANIFESTS / "valid" / "tab-indented.json")
    assert doc.body["metadata"]["name"] == "digits-json"


def test_yaml_syntax_errors_name_the_file_line_and_column() -> None:
    with pytest.raises(ManifestSyntaxError) as caught:
        load_file(MANIFESTS / "invalid" / "bad-syntax.yaml")
    assert (caught.value.line, caught.value.column) == (11, 8)
    assert str(caught.value).startswith(f"{MANIFESTS / 'invalid' / 'bad-syntax.yaml'}:11:8: ")


def test_json_syntax_errors_name_the_line() -> None:
    with pytest.raises(ManifestSyntaxError) as caught:
        loads('{\n  "a": 1,\n  "b": }\n', "bad.json", json_only=True)
    assert caught.value.line == 3


def test_a_missing_file_is_unreadable(tmp_path: Path) -> None:
    with pytest.raises(UnreadableManifest, match="cannot read"):
        load_file(tmp_path / "absent.yaml")


# --- schema ---------------------------------------------------------------------------


def test_yaml_paths_use_dots_for_keys_and_brackets_for_indexes() -> None:
    assert yaml_path(["spec", "predictors", 1, "traffic"]) == "spec.predictors[1].traffic"
    assert yaml_path([]) == ""


def test_schema_errors_carry_the_yaml_path_of_the_bad_value(crd: Draft7Validator) -> None:
    (doc,) = load_file(MANIFESTS / "invalid" / "replicas-not-integer.yaml")
    found = schema_findings(doc.body, crd)
    assert [f.path for f in found] == ["spec.predictors[0].replicas"]
    assert "'two' is not of type 'integer'" in found[0].message


def test_a_missing_required_key_points_at_the_key(crd: Draft7Validator) -> None:
    (doc,) = load_file(MANIFESTS / "invalid" / "missing-graph-name.yaml")
    assert [f.path for f in schema_findings(doc.body, crd)] == [f"{G}.name"]


def test_null_values_are_pruned_like_the_api_server_does(crd: Draft7Validator) -> None:
    (doc,) = load_file(MANIFESTS / "valid" / "prepackaged-sklearn.yaml")
    doc.body["spec"]["predictors"][0]["componentSpecs"] = None
    assert validate_document(doc.body, crd) == []


def test_the_schema_is_compiled_once_per_path(crd_path: Path, crd: Draft7Validator) -> None:
    assert load_schema(crd_path) is crd


def test_an_explicit_schema_path_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        find_schema(tmp_path / "absent.json")


def test_the_default_schema_is_found_beside_the_repo_or_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(schema_module, "REPO_ROOT", tmp_path / "nowhere")
    work = tmp_path / "work" / "repo"
    work.mkdir(parents=True)
    assert find_schema(cwd=work) is None
    shared = tmp_path / "work" / "shared" / "seldon"
    shared.mkdir(parents=True)
    (shared / "seldondeployment-v1.schema.json").write_text("{}")
    assert find_schema(cwd=work) == (shared / "seldondeployment-v1.schema.json").resolve()


def test_an_unreadable_schema_is_a_config_error(tmp_path: Path) -> None:
    broken = tmp_path / "schema.json"
    broken.write_text("{not json")
    with pytest.raises(ConfigError, match="cannot read the CRD schema"):
        load_schema(broken)


# --- pure validators ------------------------------------------------------------------


@pytest.mark.parametrize("path", VALID, ids=[p.name for p in VALID])
def test_published_example_shapes_are_valid(path: Path, crd: Draft7Validator) -> None:
    report = validate_file(str(path), crd)
    assert [str(f) for d in report.documents for f in d.findings] == []
    assert report.valid


def test_the_project_manifest_is_valid_against_the_real_schema(crd: Draft7Validator) -> None:
    report = validate_file(str(ROOT / "graph" / "seldondeployment.yaml"), crd)
    assert report.valid, report.lines()


@pytest.mark.parametrize("name", sorted(INVALID))
def test_malformed_manifests_report_the_yaml_path(name: str, crd: Draft7Validator) -> None:
    report = validate_file(str(MANIFESTS / "invalid" / name), crd)
    assert not report.valid
    assert {f.path for d in report.documents for f in d.findings} == INVALID[name]


def test_every_invalid_manifest_has_an_expectation() -> None:
    files = {p.name for p in (MANIFESTS / "invalid").iterdir()}
    assert files == {*INVALID, "bad-syntax.yaml"}


def test_a_value_the_schema_rejects_is_reported_once(crd: Draft7Validator) -> None:
    (doc,) = load_file(MANIFESTS / "valid" / "custom-model.yaml")
    doc.body["spec"]["predictors"][0]["graph"]["parameters"][1]["value"] = 3
    found = validate_document(doc.body, crd)
    assert [f.path for f in found] == [f"{G}.parameters[1].value"]
    assert found[0].message.startswith("schema: ")


def test_without_a_schema_the_admission_rules_still_apply() -> None:
    (doc,) = load_file(MANIFESTS / "invalid" / "replicas-not-integer.yaml")
    assert validate_document(doc.body, None) == []
    (doc,) = load_file(MANIFESTS / "invalid" / "traffic-not-100.yaml")
    assert [f.path for f in validate_document(doc.body, None)] == ["spec.predictors[*].traffic"]


def test_an_empty_file_is_not_a_valid_manifest(tmp_path: Path) -> None:
    empty = tmp_path / "empty.yaml"
    empty.write_text("---\n# nothing here\n")
    report = validate_files([str(empty)], None)
    assert not report.valid and report.exit_code == 1
    assert "no SeldonDeployment document" in report.lines()[0]


def test_exit_codes_rank_unreadable_above_invalid(tmp_path: Path) -> None:
    good = str(ROOT / "graph" / "seldondeployment.yaml")
    bad = str(MANIFESTS / "invalid" / "two-shadows.yaml")
    assert validate_files([good], None).exit_code == 0
    assert validate_files([good, bad], None).exit_code == 1
    assert validate_files([bad, str(tmp_path / "absent.yaml")], None).exit_code == 2


# --- the real CLI ---------------------------------------------------------------------


def test_cli_reports_valid_files() -> None:
    canary = "tests/graph/validation/manifests/valid/canary.yaml"
    result = cli("graph/seldondeployment.yaml", canary)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "graph/seldondeployment.yaml: valid",
        "tests/graph/validation/manifests/valid/canary.yaml: valid",
    ]


def test_cli_prints_one_line_per_finding_and_exits_1() -> None:
    bad = "tests/graph/validation/manifests/invalid/single-predictor-half-traffic.yaml"
    result = cli("graph/seldondeployment.yaml", bad)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0] == "graph/seldondeployment.yaml: valid"
    assert lines[1].startswith(f"{bad}: {G}.modelUri: is required")
    assert lines[2].startswith(f"{bad}: spec.predictors[0].traffic: ")


def test_cli_names_the_document_of_a_multi_document_file(tmp_path: Path) -> None:
    text = (MANIFESTS / "valid" / "multi-document.yaml").read_text()
    text += "---\n" + (MANIFESTS / "invalid" / "two-shadows.yaml").read_text()
    path = tmp_path / "many.yaml"
    path.write_text(text)
    result = cli(str(path))
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        f"{path}:doc 4: spec.predictors[2].shadow: at most one predictor may be a shadow"
    ]


def test_cli_reports_yaml_syntax_errors_with_the_line() -> None:
    result = cli("tests/graph/validation/manifests/invalid/bad-syntax.yaml")
    assert result.returncode == 1
    assert result.stdout.startswith(
        "tests/graph/validation/manifests/invalid/bad-syntax.yaml:11:8: invalid YAML"
    )


def test_cli_exits_2_on_unreadable_files_and_usage_errors(tmp_path: Path) -> None:
    missing = cli("graph/seldondeployment.yaml", str(tmp_path / "absent.yaml"))
    assert missing.returncode == 2
    assert "graph/seldondeployment.yaml: valid" in missing.stdout
    assert f"cannot read {tmp_path / 'absent.yaml'}" in missing.stderr
    assert cli().returncode == 2
    no_schema = cli("--schema", str(tmp_path / "nope.json"), "graph/seldondeployment.yaml")
    assert no_schema.returncode == 2 and "no such file" in no_schema.stderr


def test_cli_reads_standard_input_and_an_explicit_schema(tmp_path: Path) -> None:
    schema = tmp_path / "crd.json"
    schema.write_text(json.dumps({"type": "object", "required": ["status"]}))
    text = (ROOT / "graph" / "seldondeployment.yaml").read_text()
    result = cli("--schema", str(schema), "-", stdin=text)
    assert result.returncode == 1
    assert result.stdout.splitlines() == ["<stdin>: status: schema: is required"]


def test_cli_declares_extra_prepackaged_servers() -> None:
    doc = (MANIFESTS / "valid" / "prepackaged-sklearn.yaml").read_text()
    doc = doc.replace("SKLEARN_SERVER", "LIGHTGBM_SERVER")
    assert cli("-", stdin=doc).returncode == 1
    assert cli("--prepackaged-server", "LIGHTGBM_SERVER", "-", stdin=doc).returncode == 0


def test_cli_without_a_schema_notes_it_and_applies_the_other_rules(tmp_path: Path) -> None:
    # Run the CLI's main with no schema beside the repository or the working directory.
    code = (
        "import sys, pathlib, graph.validation.schema as s; "
        "s.REPO_ROOT = pathlib.Path(sys.argv[1]); "
        "from graph.cli import main; sys.exit(main(sys.argv[2:]))"
    )
    invalid = MANIFESTS / "invalid"
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            str(tmp_path),
            "validate",
            str(invalid / "replicas-not-integer.yaml"),
            str(invalid / "traffic-not-100.yaml"),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(ROOT)},
    )
    assert "no CRD schema found; schema checks skipped" in result.stderr
    assert result.returncode == 1
    assert result.stdout.splitlines()[0] == f"{invalid / 'replicas-not-integer.yaml'}: valid"
    assert "spec.predictors[*].traffic" in result.stdout.splitlines()[1]
