"""Kubernetes metrics APIs served from Prometheus, and a built-in HPA loop."""

__version__ = "0.1.0"
