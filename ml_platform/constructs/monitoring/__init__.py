"""Model monitoring: data-quality and model-quality baselines, monitoring schedules, drift alarms.
Empty until the monitoring capability lands."""
