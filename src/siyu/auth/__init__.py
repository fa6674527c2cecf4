"""Users, roles, sessions and API keys: who may do what in the console and the REST API."""
