"""Kubernetes vocabulary, pure: quantities, label selectors, group-resources and REST
mapping tables, Status errors, time formats. Imports no I/O library.
"""
