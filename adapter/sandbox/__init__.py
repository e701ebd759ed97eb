"""The one-machine demo and its parts, among them the Kubernetes API server stand-in that
the tests use too.
"""
