"""The JSON documents of the metrics APIs, pure, below both the server and the HPA loop.

`metrics`: MetricValueList and ExternalMetricValueList and the apiserver's JSON encoding;
`resource`: PodMetrics, NodeMetrics and their Table form (metrics.k8s.io).
"""
