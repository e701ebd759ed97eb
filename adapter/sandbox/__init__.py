"""The one-machine demo and its parts, among them the Kubernetes API server stand-in that
the tests use too.
"""

from adapter.sandbox.apiserver import RunningApiServer, build_app, run_apiserver
from adapter.sandbox.store import APIServiceBackend, ClusterState, ScaleSubresource

__all__ = [
    "APIServiceBackend",
    "ClusterState",
    "RunningApiServer",
    "ScaleSubresource",
    "build_app",
    "run_apiserver",
]
