"""Local emulators of the providers' APIs: real HTTP (or SMTP) servers on 127.0.0.1 that check
what the provider checks (signatures, required fields, limits, error codes) and count what
they accepted, so tests can assert "sent exactly once" at the provider."""
