"""Operations: dashboards, operational alarms and runbooks' automation across capabilities.
Empty until the operations capability lands."""
