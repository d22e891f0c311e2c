"""The container image sources: pins, layer order, the Spark entry point and the worker's entrypoint.

These checks need no container engine (``make test-images`` builds and runs the images with
podman, tests/images): the pins cover every dependency, the Dockerfiles follow the contract
(non-root, the entry point where the operator's renderer expects it, dependencies before source),
the build context lets in what they copy, and build.sh refuses clearly without an engine. The
worker's entrypoint with a real JVM is tested in tests/integration/test_worker_image_entrypoint.py.
"""

from __future__ import annotations

import fnmatch
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from semingest_api import spec

REPO = Path(__file__).resolve().parents[2]
IMAGES = REPO / "images"
# The extras each image installs (the worker: TensorFlow for inference, the catalogue's web extra).
IMAGE_EXTRAS = {"operator": "operator", "worker": "worker inference web"}
DOCKERFILES = {name: IMAGES / name / "Dockerfile" for name in ("operator", "worker")}
CONSTRAINTS = IMAGES / "constraints.txt"


def _load_requirements_module():
    path = IMAGES / "requirements_from_pyproject.py"
    module_spec = importlib.util.spec_from_file_location("requirements_from_pyproject", path)
    assert module_spec and module_spec.loader
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


def _constraints() -> dict[str, str]:
    pins = {}
    for line in CONSTRAINTS.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"constraints.txt: {line!r} is not an exact pin"
            pins[canonicalize_name(name)] = version.strip()
    return pins


def _instructions(dockerfile: Path) -> list[str]:
    """The Dockerfile's instructions, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", dockerfile.read_text())
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


# --- pins and requirements ----------------------------------------------------------------------


@pytest.mark.parametrize("extra", ["worker", "inference", "web", "operator"])
def test_constraints_pin_every_requirement_within_its_range(extra: str):
    module = _load_requirements_module()
    pins = _constraints()
    for line in module.requirements(REPO / "pyproject.toml", CONSTRAINTS, [extra], "x86_64"):
        requirement = Requirement(line)
        name = canonicalize_name(requirement.name)
        assert name in pins, f"images/constraints.txt does not pin {name} (run images/update_constraints.sh)"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"{name}=={pins[name]} is outside pyproject's {requirement.specifier}"
        )


def test_requirements_per_extra_and_architecture():
    module = _load_requirements_module()
    pyproject = REPO / "pyproject.toml"
    operator = {
        canonicalize_name(Requirement(r).name)
        for r in module.requirements(pyproject, CONSTRAINTS, ["operator"], "x86_64")
    }
    assert {"kopf", "pyyaml", "jsonschema", "cronsim", "prometheus-client"} <= operator
    assert not operator & {"pyspark", "tensorflow-cpu", "opencv-python-headless"}, "operator image stays slim"
    assert "kubernetes-asyncio" not in operator, "the operator logs in with kopf's kubeconfig/service account"
    worker_only = {
        canonicalize_name(Requirement(r).name)
        for r in module.requirements(pyproject, CONSTRAINTS, ["worker"], "x86_64")
    }
    assert "pyspark" in worker_only and not worker_only & {"tensorflow-cpu", "prometheus-client"}, (
        "a workstation without the inference extra installs no TensorFlow (and the worker no unused client)"
    )
    worker_x86 = module.requirements(pyproject, CONSTRAINTS, ["worker", "inference"], "x86_64")
    assert any(r.startswith("tensorflow-cpu") for r in worker_x86)
    worker_arm = module.requirements(pyproject, CONSTRAINTS, ["worker", "inference"], "aarch64")
    tensorflow = [r for r in worker_arm if r.startswith("tensorflow")]
    assert tensorflow == [f"tensorflow=={_constraints()['tensorflow-cpu']}"]
    with pytest.raises(SystemExit, match="no extra 'gpu'"):
        module.requirements(pyproject, CONSTRAINTS, ["gpu"], "x86_64")


def test_requirements_script_runs_as_the_dockerfiles_call_it():
    result = subprocess.run(
        [
            sys.executable,
            str(IMAGES / "requirements_from_pyproject.py"),
            str(REPO / "pyproject.toml"),
            str(CONSTRAINTS),
            "operator",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "kopf" in result.stdout and "pyspark" not in result.stdout


# --- Dockerfiles --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(DOCKERFILES))
def test_dockerfile_is_pinned_non_root_and_installs_dependencies_before_source(name: str):
    instructions = _instructions(DOCKERFILES[name])
    base = next(i for i in instructions if i.startswith("ARG PYTHON_IMAGE="))
    assert re.fullmatch(r"ARG PYTHON_IMAGE=python:3\.11\.\d+-slim-bookworm", base), base
    users = [i.split()[1] for i in instructions if i.startswith("USER ")]
    assert users, "the image must not run as root"
    assert re.fullmatch(r"(\$\{SPARK_UID\}|[1-9]\d*)(:[1-9]\d*)?", users[-1]), users[-1]
    if users[-1] == "${SPARK_UID}":
        assert "ARG SPARK_UID=185" in instructions
    deps = next(n for n, i in enumerate(instructions) if "-r requirements.txt -c constraints.txt" in i)
    source = next(n for n, i in enumerate(instructions) if i.startswith("COPY --from=wheel"))
    assert deps < source, "dependencies must be installed in a layer before the project's source"
    # The dependency layer depends on nothing but the requirements computed from pyproject.toml
    # (in their own stage, so that other edits of pyproject.toml keep the layer) and the pins.
    final_stage = instructions.index(next(i for i in instructions if i == "FROM ${PYTHON_IMAGE}"))
    assert [i for i in instructions[final_stage:deps] if i.startswith("COPY")] == [
        "COPY --from=requirements /src/requirements.txt /src/constraints.txt ./"
    ]
    stage = instructions.index("FROM ${PYTHON_IMAGE} AS requirements")
    assert [i for i in instructions[stage:final_stage] if i.startswith(("COPY", "RUN"))] == [
        "COPY pyproject.toml images/constraints.txt images/requirements_from_pyproject.py ./",
        f"RUN python requirements_from_pyproject.py pyproject.toml constraints.txt {IMAGE_EXTRAS[name]} > requirements.txt",
    ]


def test_worker_image_puts_the_spark_entry_point_where_the_operator_renders_it():
    instructions = _instructions(DOCKERFILES["worker"])
    assert f"COPY --chmod=0644 images/worker/semingest_job.py {spec.WORKER_ENTRYPOINT}" in instructions
    assert 'ENTRYPOINT ["/opt/semingest/entrypoint.sh"]' in instructions
    assert any("openjdk-17-jre-headless" in i and "tesseract-ocr" in i and "tini" in i for i in instructions)
    env = " ".join(i for i in instructions if i.startswith("ENV "))
    assert "SPARK_HOME=/opt/spark" in env and "JAVA_HOME=/usr/lib/jvm/jre-17" in env
    job = (IMAGES / "worker" / "semingest_job.py").read_text()
    assert "from semingest_worker.submit import main" in job and "raise SystemExit(main())" in job


def test_operator_image_runs_the_console_script():
    instructions = _instructions(DOCKERFILES["operator"])
    assert 'ENTRYPOINT ["semingest-operator"]' in instructions
    assert "EXPOSE 8080 9090" in instructions
    assert "semingest-operator" in (REPO / "pyproject.toml").read_text()


def test_build_context_lets_in_what_the_dockerfiles_copy():
    patterns = [p.strip() for p in (REPO / ".dockerignore").read_text().splitlines()]
    patterns = [p for p in patterns if p and not p.startswith("#")]

    def included(path: str) -> bool:
        verdict = True
        for pattern in patterns:
            negated = pattern.startswith("!")
            glob = pattern[1:] if negated else pattern
            if fnmatch.fnmatch(path, glob.rstrip("/")) or path.startswith(glob.rstrip("/") + "/"):
                verdict = negated
        return verdict

    for dockerfile in DOCKERFILES.values():
        for instruction in _instructions(dockerfile):
            if instruction.startswith("COPY") and "--from" not in instruction:
                sources = [w for w in instruction.split()[1:-1] if not w.startswith("--")]
                for source in sources:
                    assert (REPO / source).exists(), f"{dockerfile}: {source} does not exist"
                    assert included(source), f".dockerignore keeps {source} out of the build context"
    assert not included(".venv") and not included("tests/unit/test_images.py")


def test_build_script_refuses_clearly_without_a_container_engine(tmp_path: Path):
    script = str(IMAGES / "build.sh")
    no_client = subprocess.run(
        [script], env={**os.environ, "DOCKER": "no-such-docker"}, capture_output=True, text=True
    )
    assert no_client.returncode == 2
    assert "no 'no-such-docker' command" in no_client.stderr and "Nothing was built" in no_client.stderr
    # A client whose engine is unreachable (like `docker info` on this machine).
    fake = tmp_path / "engine-down"
    fake.write_text("#!/bin/sh\necho 'Cannot connect to the Docker daemon' >&2\nexit 1\n")
    fake.chmod(0o755)
    no_engine = subprocess.run(
        [script], env={**os.environ, "DOCKER": str(fake)}, capture_output=True, text=True
    )
    assert no_engine.returncode == 2
    assert "info' failed: no container engine is reachable" in no_engine.stderr
    assert "Nothing was built" in no_engine.stderr
