"""`python -m data.synth bank|build ...` (data.synth.build) and `python -m data.synth stream-bench ...`
(data.synth.stream)."""

import sys

if len(sys.argv) > 1 and sys.argv[1] == "stream-bench":
    from data.synth.stream import main

    sys.exit(main(sys.argv[2:]))
from data.synth.build import main

sys.exit(main())
