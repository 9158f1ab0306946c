"""Settings classes for MSC; see settings.py."""
