"""Reading YAML and JSON documents a user hands us, with bounds that keep a hostile or
mistaken file from hanging or crashing the process.

Owns the three limits every file read by the adapter goes through — rule configs
(`adapter.rules.config`), HPA snapshots (`adapter.hpa.snapshot`) and `rules explain
--series` lists:

- size: only regular files are opened (a FIFO, `/dev/zero` or a directory is refused
  from `os.stat`, before any open that could block), opened non-blocking, and at most
  `MAX_FILE_BYTES` + 1 bytes are read. A rule config is a ConfigMap in a cluster, and
  those hold 1 MiB; 16 MiB leaves room for large snapshots while bounding the time the
  pure-Python parser takes.
- alias expansion: a YAML alias costs the size of what it names, counted where it is
  used, so nested anchors ("billion laughs": a few hundred bytes, 10^9 nodes) stop at
  `MAX_NODES`; an anchor used inside itself is refused. Go's yaml.v2 refuses such
  documents too (CVE-2019-11254, fixed in v2.2.8 by limiting aliasing), which is what
  prometheus-adapter and the API server decode with.
- nesting depth: composition is recursive (several Python frames per level), so a
  document nested `MAX_DEPTH` levels deep is refused before it can reach Python's
  recursion limit. Nothing the adapter reads nests more than a dozen levels.

JSON is read as YAML (JSON is YAML 1.2, and PyYAML reads the JSON people write), so the
same limits hold for it. What the documents mean is the callers' business; they turn
`DocumentError` into their own error naming the file (`ConfigError`, `SnapshotError`).
This module uses only `os` and PyYAML: no network, nothing above `adapter.k8s`.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, Final, cast

import yaml
import yaml.cyaml

__all__ = [
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "MAX_NODES",
    "BoundedSafeLoader",
    "DocumentError",
    "load",
    "load_file",
    "read_file",
    "read_stream",
]

MAX_FILE_BYTES: Final = 16 * 1024 * 1024
"""Largest file read, in bytes."""
MAX_DEPTH: Final = 100
"""Deepest nesting of sequences and mappings accepted."""
MAX_NODES: Final = 1_000_000
"""Most YAML nodes a document may expand to, each alias counted at every use."""


_CParser: Any = getattr(yaml.cyaml, "CParser", None) if yaml.__with_libyaml__ else None


class DocumentError(ValueError):
    """A file that cannot be read as a document; the message is one line and does not
    name the file (the caller does)."""


# --- reading --------------------------------------------------------------------------


def read_file(path: str | os.PathLike[str], *, limit: int = MAX_FILE_BYTES) -> str:
    """The UTF-8 text of a regular file of at most `limit` bytes.

    The type is checked with `os.stat` before opening, so a FIFO is never opened (an open
    for reading blocks until a writer comes); the open is non-blocking and checked again
    on the descriptor in case the path was swapped in between.
    """
    try:
        info = os.stat(path)
    except OSError as err:
        raise DocumentError(f"cannot read file: {err.strerror or err}") from err
    _check_regular(info)
    if info.st_size > limit:
        raise DocumentError(_too_large(limit))
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as err:
        raise DocumentError(f"cannot read file: {err.strerror or err}") from err
    try:
        _check_regular(os.fstat(fd))
        with os.fdopen(fd, "rb", closefd=False) as stream:
            data = stream.read(limit + 1)
    except OSError as err:
        raise DocumentError(f"cannot read file: {err.strerror or err}") from err
    finally:
        os.close(fd)
    return _decode(data, limit)


def read_stream(stream: IO[bytes] | IO[str], *, limit: int = MAX_FILE_BYTES) -> str:
    """At most `limit` bytes (or characters, for a text stream) of a stream such as
    standard input; a longer stream is refused rather than read to its end."""
    try:
        data = stream.read(limit + 1)
    except OSError as err:
        raise DocumentError(f"cannot read: {err.strerror or err}") from err
    if isinstance(data, str):
        if len(data) > limit:
            raise DocumentError(_too_large(limit))
        return data
    return _decode(data, limit)


def _check_regular(info: os.stat_result) -> None:
    if stat.S_ISREG(info.st_mode):
        return
    kind = (
        "a directory"
        if stat.S_ISDIR(info.st_mode)
        else "a FIFO"
        if stat.S_ISFIFO(info.st_mode)
        else "a device"
        if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode)
        else "a socket"
        if stat.S_ISSOCK(info.st_mode)
        else "not a regular file"
    )
    raise DocumentError(f"cannot read file: {kind}, not a regular file")


def _decode(data: bytes, limit: int) -> str:
    if len(data) > limit:
        raise DocumentError(_too_large(limit))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise DocumentError(f"not UTF-8 text: {err}") from err


def _too_large(limit: int) -> str:
    return f"file larger than {limit} bytes ({limit // (1024 * 1024)} MiB)"


# --- parsing --------------------------------------------------------------------------


class BoundedSafeLoader(yaml.SafeLoader):
    """PyYAML's SafeLoader, composing with the depth and expansion bounds of this module.

    Each node's expanded size (itself plus its children, an alias counting as what it
    names) is summed while it is composed; the running sum of every open collection is
    checked, so a bomb stops after `MAX_NODES` nodes' worth of work, not at the end.
    Subclass it to change resolvers (the snapshot loader keeps timestamps as text).
    """

    max_depth: int = MAX_DEPTH
    max_nodes: int = MAX_NODES

    def __init__(self, stream: str | bytes) -> None:
        super().__init__(stream)
        self._events: Any = _CParser(stream) if _CParser is not None else None
        """libyaml's parser when PyYAML has it: parsing is most of the time PyYAML takes
        (five times the composer's on a 3 MB config) and the bounds live in the composer,
        which stays Python. Its events are the pure-Python parser's."""
        self._open_sizes: list[int] = []
        """Nodes counted so far inside each collection being composed, outermost first."""
        self._anchor_sizes: dict[str, int] = {}

    def check_event(self, *choices: Any) -> bool:
        if self._events is None:
            return super().check_event(*choices)
        return bool(self._events.check_event(*choices))

    def peek_event(self) -> yaml.Event:
        if self._events is None:
            event: yaml.Event = super().peek_event()  # type: ignore[no-untyped-call]
            return event
        return cast(yaml.Event, self._events.peek_event())

    def get_event(self) -> yaml.Event:
        if self._events is None:
            event: yaml.Event = super().get_event()  # type: ignore[no-untyped-call]
            return event
        return cast(yaml.Event, self._events.get_event())

    def dispose(self) -> None:
        super().dispose()
        if self._events is not None:
            self._events.dispose()

    def compose_document(self) -> yaml.Node | None:
        self._open_sizes = []
        self._anchor_sizes = {}
        node: yaml.Node | None = super().compose_document()
        return node

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            anchor = str(event.anchor)
            if anchor in self.anchors and anchor not in self._anchor_sizes:
                raise _refused(f"anchor &{anchor} is used inside itself", event)
            node = super().compose_node(parent, index)
            self._add(self._anchor_sizes.get(anchor, 1), event)
            return node
        collection = isinstance(event, yaml.SequenceStartEvent | yaml.MappingStartEvent)
        if collection:
            if len(self._open_sizes) >= self.max_depth:
                raise _refused(f"nesting deeper than {self.max_depth} levels", event)
            self._open_sizes.append(0)
        node = super().compose_node(parent, index)
        size = 1 + (self._open_sizes.pop() if collection else 0)
        anchored = getattr(event, "anchor", None)
        if anchored is not None:
            self._anchor_sizes[str(anchored)] = size
        self._add(size, event)
        return node

    def _add(self, size: int, event: yaml.Event) -> None:
        total = size
        if self._open_sizes:
            self._open_sizes[-1] += size
            total = self._open_sizes[-1]
        if total > self.max_nodes:
            raise _refused(
                f"document expands to more than {self.max_nodes} nodes "
                "(each use of an alias counts what it names)",
                event,
            )


def _refused(message: str, event: yaml.Event) -> DocumentError:
    mark = event.start_mark
    where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
    return DocumentError(message + where)


def load(
    text: str,
    loader: type[BoundedSafeLoader] = BoundedSafeLoader,
    *,
    inspect: Callable[[yaml.Node], None] | None = None,
) -> Any:
    """The single document's value; raises DocumentError with a one-line message.

    `inspect`, if given, sees the node tree as written before it is constructed (merge
    keys are flattened into the tree by construction), for checks on the text such as
    duplicate keys.
    """
    try:
        # The reader refuses control characters as it is built: inside the try too.
        instance = loader(text)
    except yaml.YAMLError as err:
        raise DocumentError(_one_line(err)) from err
    try:
        node = instance.get_single_node()
        if node is None:
            return None
        if inspect is not None:
            inspect(node)
        return instance.construct_document(node)
    except yaml.YAMLError as err:
        raise DocumentError(_one_line(err)) from err
    except RecursionError as err:  # the bounds above should make this unreachable
        raise DocumentError("document nested too deeply") from err
    finally:
        instance.dispose()


def load_file(path: str | Path, loader: type[BoundedSafeLoader] = BoundedSafeLoader) -> Any:
    """`read_file` then `load`."""
    return load(read_file(path), loader)


def _one_line(err: yaml.YAMLError) -> str:
    """PyYAML's message, with its source excerpt and caret dropped, on one line."""
    if isinstance(err, yaml.MarkedYAMLError):
        parts = [err.context, err.problem]
        mark = err.problem_mark or err.context_mark
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        return " ".join(" ".join(p for p in parts if p).split()) + where
    return " ".join(str(err).split())
