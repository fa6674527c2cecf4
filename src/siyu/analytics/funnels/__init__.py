"""Funnels and paths: the ``funnel`` runner (``runner``) and its one statement (``statement``),
the ``paths`` runner, and the SQL-text builder both use (``sqltext``)."""
