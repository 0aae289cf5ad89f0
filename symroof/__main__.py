import sys

from symroof.cli import main

sys.exit(main())
