"""Interfaces (``typing.Protocol``) the services depend on; adapters implement them."""
