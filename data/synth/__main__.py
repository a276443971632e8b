import sys

from data.synth.build import main

sys.exit(main())
