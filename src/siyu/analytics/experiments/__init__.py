"""A/B experiments: the statistics and the ``experiment`` runner (``runner``), per-user values
from CSV (``inputs``) and the splits journeys run (``split_tests``)."""
