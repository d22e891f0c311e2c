"""A real Kubernetes control plane for the tests (issue #12).

Fixtures (tests/conftest.py): ``control_plane`` (session: a running ControlPlane; its
``admin_kubeconfig``, ``kubectl()``, ``helm()``, ``request()``, ``create_token()``,
``kubeconfig_for_token()``) and ``operator_process`` (a factory of OperatorProcess, stopped after
the test). Tests that use them carry the ``controlplane`` marker.
"""

from .cluster import ControlPlane, ControlPlaneError, Process, free_port, tool, wait_for
from .operator import OperatorProcess

__all__ = ["ControlPlane", "ControlPlaneError", "OperatorProcess", "Process", "free_port", "tool", "wait_for"]
