"""Tags (标签): groups, tags with weights that can decay, manual / bulk / rule / keyword tagging."""
