"""`python -m benchmarks.corpus`: train and label the corpus (see `generate.py`)."""

from benchmarks.corpus.generate import main

raise SystemExit(main())
