"""`siyu analytics …`: the shared app and output (``app``) and the commands per area."""
