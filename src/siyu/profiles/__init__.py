"""Contacts, identifiers, identity resolution, PII encryption and masking."""
