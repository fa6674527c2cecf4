"""Activity analyses: DAU/WAU/MAU and stickiness (``active_users``), lifecycle and retention,
over what they share (``base``: which events count as activity, period numbering, bitmaps)."""
