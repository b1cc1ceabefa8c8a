"""``python -m metamodels``: the command line interface (see :mod:`metamodels.cli`)."""
import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
