"""Use cases. Framework-free: they receive collaborators through their constructors."""
