"""The SemIngest spec loader: validation and defaults come from crds/semingest.yaml itself."""

from __future__ import annotations

import pytest

from semingest_api import spec as specmod
from semingest_api.spec import SpecError, parse_spec

MINIMAL = {"source": {"pvc": "sem-datashare"}, "database": {"secretRef": {"name": "sem-db"}}}


def test_defaults_are_the_crds_own():
    parsed = parse_spec(MINIMAL)
    schema = specmod.spec_schema()["properties"]
    assert parsed.backend == schema["backend"]["default"] == "native"
    assert parsed.source.include == tuple(schema["source"]["properties"]["include"]["default"])
    assert parsed.source.path == "/"
    assert parsed.executors.strategy == "fat"
    assert (parsed.executors.nodes, parsed.executors.cores_per_node) == (1, 1)
    assert parsed.executors.memory_per_core == "1Gi"
    assert parsed.database.secret_key == "url"
    assert parsed.stages.metadata and parsed.stages.scale_bar and parsed.stages.inference
    assert parsed.model is None and parsed.schedule is None and parsed.suspend is False
    # The raw dict handed to the worker carries the defaults too.
    assert parsed.raw["executors"]["memoryPerCore"] == "1Gi"


def test_issue_example_parses():
    parsed = parse_spec(
        {
            "backend": "sparkOperator",
            "image": "registry.example.org/semingest-worker:0.1.0",
            "source": {"pvc": "sem-datashare", "path": "/SEM-images/new_dati_SEM", "include": ["**/*.tif"]},
            "executors": {"strategy": "tiny", "nodes": 8, "coresPerNode": 24, "memoryPerCore": "1Gi"},
            "driver": {"cores": 1, "memory": "4Gi"},
            "database": {"secretRef": {"name": "sem-db", "key": "url"}},
            "model": {"pvc": "sem-models", "path": "/models/sem.pb", "labels": "/models/labels.txt"},
            "stages": {"metadata": True, "scaleBar": True, "inference": True},
            "schedule": "0 * * * *",
            "suspend": False,
        }
    )
    assert parsed.executors.nodes * parsed.executors.cores_per_node == 192
    assert parsed.model is not None and parsed.model.batch_size == 32
    assert parsed.driver.memory == "4Gi" and parsed.driver.start_timeout_seconds == 600


@pytest.mark.parametrize(
    ("patch", "field", "words"),
    [
        ({"source": {"pvc": "a", "hostPath": "/b"}}, "spec.source", "exactly one of pvc, hostPath"),
        ({"source": {"path": "/x"}}, "spec.source", "exactly one of pvc, hostPath"),
        ({"executors": {"strategy": "huge"}}, "spec.executors.strategy", "is not one of"),
        ({"executors": {"nodes": 0}}, "spec.executors.nodes", "less than the minimum"),
        ({"executors": {"memoryPerCore": "lots"}}, "spec.executors.memoryPerCore", "such as 2Gi"),
        ({"backend": "yarn"}, "spec.backend", "is not one of"),
        ({"source": {"hostPath": "relative/dir"}}, "spec.source.hostPath", "must be an absolute path"),
        ({"database": {}}, "spec.database.secretRef", "is required"),
        ({"stages": {"inference": "yes"}}, "spec.stages.inference", "is not of type 'boolean'"),
        ({"model": {"pvc": "m"}}, "spec.model.path", "is required"),
    ],
)
def test_invalid_specs_name_the_field(patch, field, words):
    bad = {**MINIMAL, **patch}
    with pytest.raises(SpecError) as err:
        parse_spec(bad)
    assert err.value.field == field
    assert words in err.value.message
    assert str(err.value).startswith(field + ":")


def test_missing_required_top_level_field():
    with pytest.raises(SpecError) as err:
        parse_spec({"source": {"pvc": "x"}})
    assert err.value.field == "spec.database"


def test_not_an_object():
    with pytest.raises(SpecError) as err:
        parse_spec(["source"])  # type: ignore[arg-type]
    assert err.value.field == "spec"


def test_unknown_fields_are_errors_with_a_hint_and_all_problems_are_listed():
    with pytest.raises(specmod.SpecError) as info:
        specmod.parse_spec(
            {
                "source": {"pvc": "d", "includes": ["*.tif"]},
                "executor": {"nodes": 2},
                "database": {"secretRef": {"name": "x"}},
                "driver": {"memory": "2GB"},
            }
        )
    assert info.value.problems == (
        ("spec.executor", "is not a field of spec; did you mean 'executors'?"),
        ("spec.driver.memory", "'2GB' must be a Kubernetes quantity such as 2Gi or 512Mi"),
        ("spec.source.includes", "is not a field of spec.source; did you mean 'include'?"),
    )
    assert info.value.field == "spec.executor"
    assert "spec.source.includes" in str(info.value) and "spec.driver.memory" in info.value.message


def test_free_form_maps_accept_any_key():
    spec = specmod.parse_spec(
        {
            "source": {"pvc": "d"},
            "database": {"secretRef": {"name": "x"}},
            "sparkConf": {"spark.anything": "1"},
        }
    )
    assert spec.spark_conf == {"spark.anything": "1"}
