"""The HorizontalPodAutoscaler: replica calculation and behavior (pure), snapshots (pure),
and the controller loop with its metric sources (I/O).
"""
