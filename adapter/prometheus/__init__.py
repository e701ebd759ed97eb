"""Async client for any Prometheus-compatible HTTP API (aiohttp): instant queries and
streamed series listings, with typed errors for each way a call can fail.
"""
