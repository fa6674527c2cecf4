"""Segments (人群): a definition language over attributes, tags, behaviour, channels, consent,
stages, RFM and other segments, compiled to one warehouse query."""
