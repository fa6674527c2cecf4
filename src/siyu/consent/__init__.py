"""Consent ledger per contact × purpose × channel (PIPL)."""
