"""`python -m simulator`: the same as `baton-xmatters simulate`."""

import sys

from simulator.cli import main

sys.exit(main())
