"""What the loop keeps in memory between syncs: pods by label, HPA selectors.

Owns two indexes, both fed by watches and read by every sync, so a sync asks the API
server only for what cannot be cached (the target's current scale and the metrics):

* `PodIndex`: the pods of the cluster, reduced to what the replica calculator reads,
  per namespace and by label pair. A selector's pods are found from its most selective
  equality requirement (`app=web` looks at the pods labelled so, not at the whole
  namespace), then checked against the whole selector: the pod lister upstream uses.
* `SelectorStore`: each managed HPA's last known target selector, per namespace, to
  answer "which HPAs select any of these pods" for upstream's AmbiguousSelector check
  (kube-controller-manager's hpaSelectorStore: an HPA is known with a select-nothing
  selector from the moment it is seen, and gets its real one when a sync parses it).
  HPAs are indexed by one equality requirement so the check looks only at HPAs that
  could match, not at every HPA of a namespace.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from adapter.hpa.model import Pod
from adapter.hpa.objects import InvalidObject, parse_pod
from adapter.k8s.selectors import LabelSelector, Operator

__all__ = ["PodIndex", "SelectorStore"]

log = logging.getLogger(__name__)

_EQUALITY = (Operator.EQUALS, Operator.DOUBLE_EQUALS, Operator.IN)


def _equalities(selector: LabelSelector) -> list[tuple[str, tuple[str, ...]]]:
    return [
        (requirement.key, requirement.values)
        for requirement in selector.requirements
        if requirement.operator in _EQUALITY and requirement.values
    ]


class PodIndex:
    """Pods by namespace and by (namespace, label, value)."""

    def __init__(self) -> None:
        self._pods: dict[str, dict[str, Pod]] = {}
        self._postings: dict[tuple[str, str, str], set[str]] = {}

    def __len__(self) -> int:
        return sum(len(pods) for pods in self._pods.values())

    def put(self, raw: Mapping[str, Any]) -> None:
        """Add or replace a pod from its v1 Pod object (an unreadable one is skipped)."""
        try:
            pod = parse_pod(raw)
        except InvalidObject as err:
            log.warning("ignoring an unreadable pod: %s", err)
            return
        self.remove(pod.namespace, pod.name)
        self._pods.setdefault(pod.namespace, {})[pod.name] = pod
        for key, value in pod.labels.items():
            self._postings.setdefault((pod.namespace, key, value), set()).add(pod.name)

    def remove(self, namespace: str, name: str) -> None:
        pods = self._pods.get(namespace)
        if pods is None:
            return
        old = pods.pop(name, None)
        if old is None:
            return
        for key, value in old.labels.items():
            posting = self._postings.get((namespace, key, value))
            if posting is not None:
                posting.discard(name)
                if not posting:
                    del self._postings[(namespace, key, value)]
        if not pods:
            del self._pods[namespace]

    def remove_object(self, raw: Mapping[str, Any]) -> None:
        metadata = raw.get("metadata") or {}
        self.remove(str(metadata.get("namespace") or ""), str(metadata.get("name") or ""))

    def select(self, namespace: str, selector: LabelSelector) -> list[Pod]:
        """The namespace's pods the selector matches, by name."""
        if selector.matches_nothing:
            return []
        pods = self._pods.get(namespace)
        if not pods:
            return []
        candidates: Iterable[str] | None = None
        smallest = len(pods) + 1
        for key, values in _equalities(selector):
            names: set[str] = set()
            for value in values:
                names |= self._postings.get((namespace, key, value), set())
            if len(names) < smallest:
                candidates, smallest = names, len(names)
        chosen = pods.keys() if candidates is None else candidates
        matched = [pods[name] for name in chosen if selector.matches(pods[name].labels)]
        matched.sort(key=lambda pod: pod.name)
        return matched


class SelectorStore:
    """HPA keys (`namespace/name`) and their selectors, per namespace."""

    def __init__(self) -> None:
        self._selectors: dict[str, dict[str, LabelSelector]] = {}
        self._by_pair: dict[tuple[str, str, str], set[str]] = {}
        self._general: dict[str, set[str]] = {}
        self._indexed: dict[str, list[tuple[str, str, str]] | None] = {}

    def register(self, namespace: str, key: str) -> None:
        """PutIfAbsent with the select-nothing selector."""
        selectors = self._selectors.setdefault(namespace, {})
        if key not in selectors:
            selectors[key] = LabelSelector.nothing()
            self._indexed[key] = []

    def update(self, namespace: str, key: str, selector: LabelSelector) -> None:
        """PutIfPresent: only HPAs registered (seen by the watch) are tracked."""
        selectors = self._selectors.get(namespace)
        if selectors is None or key not in selectors or selectors[key] == selector:
            return
        self._unindex(namespace, key)
        selectors[key] = selector
        if selector.matches_nothing:
            self._indexed[key] = []
            return
        equalities = _equalities(selector)
        if not equalities:
            self._general.setdefault(namespace, set()).add(key)
            self._indexed[key] = None
            return
        label, values = equalities[0]
        pairs = [(namespace, label, value) for value in values]
        for pair in pairs:
            self._by_pair.setdefault(pair, set()).add(key)
        self._indexed[key] = pairs

    def delete(self, namespace: str, key: str) -> None:
        selectors = self._selectors.get(namespace)
        if selectors is None or key not in selectors:
            return
        self._unindex(namespace, key)
        del selectors[key]
        self._indexed.pop(key, None)
        if not selectors:
            del self._selectors[namespace]

    def _unindex(self, namespace: str, key: str) -> None:
        pairs = self._indexed.get(key)
        if pairs is None:
            general = self._general.get(namespace)
            if general is not None:
                general.discard(key)
            return
        for pair in pairs:
            keys = self._by_pair.get(pair)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._by_pair[pair]

    def hpas_matching(self, namespace: str, pods: Iterable[Pod], limit: int = 2) -> list[str]:
        """HPAsMatchingPods: the HPAs whose selectors match any of the pods, sorted; stops
        after `limit` (0: no limit)."""
        selectors = self._selectors.get(namespace)
        if not selectors:
            return []
        general = self._general.get(namespace, set())
        found: set[str] = set()
        seen_label_sets: set[tuple[tuple[str, str], ...]] = set()
        for pod in pods:
            label_set = tuple(sorted(pod.labels.items()))
            if label_set in seen_label_sets:
                continue
            seen_label_sets.add(label_set)
            candidates = set(general)
            for label, value in label_set:
                candidates |= self._by_pair.get((namespace, label, value), set())
            for key in sorted(candidates):
                if key not in found and selectors[key].matches(pod.labels):
                    found.add(key)
                    if limit and len(found) >= limit:
                        return sorted(found)
        return sorted(found)
