"""`python -m marsspec`: the command-line interface (see marsspec.core.cli)."""

import sys

from marsspec.core.cli import main

sys.exit(main())
