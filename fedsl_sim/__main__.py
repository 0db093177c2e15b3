"""``python -m fedsl_sim``: the command line."""

import sys

from fedsl_sim.cli import main

sys.exit(main())
