import sys

from centrifuge.cli import main

sys.exit(main())
