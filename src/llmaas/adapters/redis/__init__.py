"""Redis adapters: state shared by every gateway instance, so limits hold across replicas."""
