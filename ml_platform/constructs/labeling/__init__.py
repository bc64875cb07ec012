"""Data labeling: labeling workforces, jobs and the buckets/roles they use.
Empty until the labeling capability lands."""
