"""`hpa evaluate FILE...`: replay snapshots, one JSON line per file.

Owns the command's I/O contract (contracts/hpa-snapshot.md): each file (or `-` for
standard input) is read and evaluated on its own, in the order given; a good one prints
its output document on one line, a bad one prints `{"file": ..., "error": ...}` on its
line when several files were given, and always a one-line error on stderr naming the
field. Any bad file makes the exit status 2. Argument parsing is `adapter.cli`'s; the
evaluation itself is `adapter.hpa.snapshot.evaluate_document`.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import TextIO

from adapter.hpa.snapshot import SnapshotError, evaluate_document, load_document
from adapter.k8s import yamlsafe

__all__ = ["EXIT_INVALID", "evaluate_files", "evaluate_text"]

EXIT_INVALID = 2


def evaluate_text(text: str) -> dict[str, object]:
    """Evaluate one snapshot given as YAML or JSON text; raises SnapshotError."""
    return evaluate_document(load_document(text))


def _read(path: str, stdin: TextIO) -> str:
    """The file's text within `adapter.k8s.yamlsafe`'s size bound (a FIFO or a device is
    refused, not waited on); `-` is standard input, read up to the same bound."""
    try:
        if path == "-":
            return yamlsafe.read_stream(getattr(stdin, "buffer", stdin))
        return yamlsafe.read_file(path)
    except yamlsafe.DocumentError as err:
        raise SnapshotError("", str(err)) from err


def evaluate_files(
    paths: Sequence[str], out: TextIO, err: TextIO, *, stdin: TextIO | None = None
) -> int:
    """Evaluate each snapshot file; 0 if all were valid, 2 if any was not."""
    status = 0
    several = len(paths) > 1
    for path in paths:
        try:
            output = evaluate_text(_read(path, stdin or sys.stdin))
        except SnapshotError as error:
            status = EXIT_INVALID
            message = " ".join(str(error).split())
            err.write(f"hpa evaluate: {path}: {message}\n")
            if several:
                out.write(json.dumps({"file": path, "error": message}, ensure_ascii=False) + "\n")
            continue
        out.write(json.dumps(output, ensure_ascii=False) + "\n")
    return status
