"""`python -m adapter`: the same entry point as the `metrics-adapter` script."""

from adapter.cli import main

raise SystemExit(main())
