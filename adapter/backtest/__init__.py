"""`hpa backtest`: what an HPA spec would have done over a window of real history.

A tool on top of the HPA's pure sync (`adapter.hpa.sync`), the rule engine
(`adapter.rules`) and Prometheus' range API. The modules, in the order data flows:
`window` (the sync instants), `specs` (the HPA manifests and the metrics they read),
`reading` (range queries built by the adapter's rules; the only I/O), `history` (what
was read), `loadmodel` (one step's inputs for a simulated replica count),
`simulation` (one sync per step, carrying the controller's memory), `replay` (decision
records instead of Prometheus), `report` and `plotting` (the output), `command` (flags
and exit codes).
"""
