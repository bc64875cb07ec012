"""Feature store: SageMaker Feature Store feature groups (online/offline stores) and their ingestion.
Empty until the feature-store capability lands."""
