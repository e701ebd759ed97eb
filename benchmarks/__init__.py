"""The performance suite: `python -m benchmarks` (or `make bench`).

Each benchmark is a module with a `run(options) -> Result` function that starts the real
servers it needs as separate processes (Prometheus, the Kubernetes API stand-in, the
adapter), measures, and compares against a baseline measured in the same invocation.
`__main__` picks which to run and at what size; `common` holds the process, timing and
reporting machinery they share. Not part of the test run: nothing here asserts, it
prints figures and says which targets were met.
"""
