"""Query parameters shared by the metric paths.

Owns the parsing of selector parameters into `adapter.k8s.selectors.LabelSelector` and
the Status error a bad one becomes (400 BadRequest, the apiserver's answer when list
options fail to decode). The selector grammar itself is `adapter.k8s.selectors`'.
"""

from __future__ import annotations

from aiohttp import web

from adapter.k8s import status
from adapter.k8s.selectors import LabelSelector, SelectorError


def selector(request: web.BaseRequest, parameter: str) -> LabelSelector:
    """A selector query parameter; absent or empty selects everything. Repeated
    parameters use the first value, as Go's `url.Values.Get` does."""
    text = request.query.get(parameter, "")
    if not text:
        return LabelSelector.everything()
    try:
        return LabelSelector.parse(text)
    except SelectorError as err:
        raise status.bad_request(str(err)) from err
