"""`python -m seq2latex.cli ...`: the `seq2latex` command."""

import sys

from seq2latex.cli import main

sys.exit(main())
