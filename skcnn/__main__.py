"""``python -m skcnn``: the command line (see ``python -m skcnn --help``)."""

import sys

from skcnn._cli import main

if __name__ == "__main__":
    sys.exit(main())
