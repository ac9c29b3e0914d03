"""Helpers shared by every layer: input errors, atomic writes, progress bars, file hashes, devices
(docs/ARCHITECTURE.md section 1)."""
