"""Single flag values as argparse reads them: Go durations, booleans, byte sizes.

Each parser turns one string into one value or an argparse error naming what was wrong,
so `--metrics-relist-interval=1x` fails at parse time with usage, as pflag fails. Checks
that need more than one flag are `adapter.settings.fromflags`'.
"""

from __future__ import annotations

import argparse

from adapter.k8s import timefmt
from adapter.k8s.quantity import Quantity, QuantityError
from adapter.server import tls
from adapter.settings import fromflags

__all__ = ["boolean", "cipher_suites", "duration", "size", "tls_version"]


def duration(text: str) -> float:
    """Seconds, from Go's duration syntax (`1m30s`)."""
    try:
        return timefmt.parse_go_duration(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"invalid duration {text!r}: {err}") from err


def boolean(text: str) -> bool:
    try:
        return fromflags.parse_bool(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from err


def size(text: str) -> int:
    """A byte count, plain or as a quantity (`512Mi`, `1G`)."""
    try:
        value = Quantity.parse(text).value
    except QuantityError as err:
        raise argparse.ArgumentTypeError(f"invalid size {text!r}: {err}") from err
    if value < 0:
        raise argparse.ArgumentTypeError(f"invalid size {text!r}: must not be negative")
    return int(value)


def tls_version(text: str) -> str:
    """`--tls-min-version`: a Go crypto/tls name, checked as the generic apiserver does."""
    if text not in tls.TLS_VERSIONS:
        allowed = ", ".join(tls.TLS_VERSIONS)
        raise argparse.ArgumentTypeError(f"unknown tls version {text!r}, allowed: {allowed}")
    return text


def cipher_suites(text: str) -> tuple[str, ...]:
    """`--tls-cipher-suites`: Go names, comma-separated; an unknown one is an error at
    start-up, in upstream's words."""
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    for name in names:
        if name not in tls.CIPHER_SUITES:
            raise argparse.ArgumentTypeError(f"Cipher suite {name} not supported or doesn't exist")
    return names
