"""Customer lifetime value: the ``rfm`` and ``clv`` runners (``runner``), the per-customer
summary they read (``data``), the BG/NBD, Pareto/NBD and Gamma-Gamma models (``bgnbd``,
``pareto``, ``gamma``) with their shared fitting (``optim``), fit-and-predict (``models``) and
the result tables (``table``)."""
