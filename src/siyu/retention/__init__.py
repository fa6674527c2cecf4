"""Retention policies (PIPL: keep personal data no longer than needed): events by name, inactive
contacts, delivered message bodies and old audit entries."""
