"""The sandbox's workload: the walkthrough's `myblog`, a small web app each pod runs as a
local process (`python -m adapter.sandbox.workload`). See `myblog` for what it does.
"""
