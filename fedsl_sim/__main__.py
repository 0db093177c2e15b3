import sys

from fedsl_sim.cli import main

sys.exit(main())
