"""`python -m adapter.sandbox.workload`: one pod container of the sandbox."""

import sys

from adapter.sandbox.workload.myblog import main

sys.exit(main())
