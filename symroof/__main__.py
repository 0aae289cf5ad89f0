import sys

from symroof.output.cli import main

sys.exit(main())
