"""In-memory adapters: the fast fakes for unit tests, proven equal to SQL by the contract tests."""
