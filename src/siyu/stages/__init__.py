"""Journey stages (旅程阶段): rule-based and manual assignment, history and flows."""
