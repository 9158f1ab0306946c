"""Data protection: inventory, retention and erasure, subject access, keys, backups."""
