"""Answer metrics-API questions: each provider is a registry lookup, a cluster lookup and
one PromQL query. Providers never format HTTP; the server never builds PromQL.
"""
