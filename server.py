#!/usr/bin/env python3
"""Entry point: ``python server.py --help``."""

import sys

from containerz.cli import main

if __name__ == "__main__":
    sys.exit(main())
