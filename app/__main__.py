"""`python -m app` and the `overnight` console script."""

import sys

from app.cli import main as _main


def main() -> int:
    return _main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
