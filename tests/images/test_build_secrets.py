"""The build host's registry settings (build secrets) are used while building, never kept."""

from __future__ import annotations

import json

import pytest

# Prints one line per finding; no output means nothing of the build host's settings stayed.
CHECK = (
    "ls -A /run/secrets 2>/dev/null | sed 's|^|left in /run/secrets: |'; "
    "for f in /etc/pip.conf /etc/xdg/pip/pip.conf; do test ! -e $f || echo present: $f; done; "
    "grep -rl 'Dir::Etc::SourceParts\\|Acquire::Check-Valid-Until' /etc/apt/apt.conf.d/ "
    "| sed 's|^|host apt setting in: |'; true"
)


@pytest.mark.parametrize("name", ["operator", "worker"])
def test_no_registry_setting_of_the_build_host_is_in_the_image(name, podman, request):
    image = request.getfixturevalue(f"{name}_image")
    config = json.loads(podman.run("image", "inspect", image).stdout)[0]["Config"]
    env = {item.split("=", 1)[0] for item in config.get("Env") or []}
    assert not {"PIP_CONFIG_FILE", "APT_CONFIG", "PIP_CERT", "PIP_INDEX_URL"} & env, env
    findings = podman.run(
        "run", "--rm", "--network", "none", "--entrypoint", "sh", image, "-c", CHECK, timeout=120
    ).stdout.strip()
    assert findings == "", findings
