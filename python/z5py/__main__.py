"""``python -m z5py``: the same command line as the ``z5py`` console script."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
