"""The rule engine, pure: prometheus-adapter's config model and validation, the Go
text/template subset, series naming and resource association, PromQL building, and
the registry that discovery swaps whole. Imports no I/O library.
"""
