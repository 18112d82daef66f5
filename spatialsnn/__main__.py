"""``python -m spatialsnn``: the command line."""

import sys

from spatialsnn.cli import main

sys.exit(main())
