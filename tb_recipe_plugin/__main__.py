"""`python -m tb_recipe_plugin analyze LOGDIR`, for environments without the console script."""

import sys

from tb_recipe_plugin.cli import main

sys.exit(main())
