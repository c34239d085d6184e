"""`python -m marsspec`: the command-line interface (see marsspec.cli.main)."""

import sys

from marsspec.cli.main import main

sys.exit(main())
