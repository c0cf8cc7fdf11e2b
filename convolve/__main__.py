"""``python -m convolve ...``: the same as the ``convolve`` command."""
import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
