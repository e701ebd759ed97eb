"""The Kubernetes API as the adapter uses it (kubernetes-asyncio): REST mapping from API
discovery, object names by label selector, kubeconfig or in-cluster configuration.
"""

from adapter.cluster.connection import (
    Cluster,
    ClusterApiError,
    ClusterConfigError,
    ClusterError,
    ClusterUnavailable,
    connect,
)
from adapter.cluster.discovery import fetch_rest_mapper
from adapter.cluster.objects import ClusterObjectLister, get_object, list_object_names, list_objects

__all__ = [
    "Cluster",
    "ClusterApiError",
    "ClusterConfigError",
    "ClusterError",
    "ClusterObjectLister",
    "ClusterUnavailable",
    "connect",
    "fetch_rest_mapper",
    "get_object",
    "list_object_names",
    "list_objects",
]
