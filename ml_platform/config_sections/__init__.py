"""The sections of `PlatformConfig`, one module per capability (see ml_platform/config.py)."""
