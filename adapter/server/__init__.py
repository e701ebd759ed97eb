"""The aggregated API server: routes, discovery documents, Status errors as HTTP, TLS,
health endpoints.
"""
