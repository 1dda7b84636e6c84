"""``python -m gaingtex``: the command line where the ``gaingtex`` script is not installed (a GPU machine that
carries the package as a folder, for example)."""

import sys

from .cli import main

sys.exit(main())
