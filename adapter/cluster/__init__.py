"""The Kubernetes API as the adapter uses it (kubernetes-asyncio): REST mapping from API
discovery, object names by label selector, kubeconfig or in-cluster configuration.
"""
