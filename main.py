"""Run UmeTrack Studio from a source checkout: ``python main.py``."""

import sys

from app.main import main

if __name__ == "__main__":
    sys.exit(main())
