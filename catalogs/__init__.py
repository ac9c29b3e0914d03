"""Data in and out, the lowest layer: halo catalogs, HOD+IA mocks, jets in ROOT files (docs/ARCHITECTURE.md
section 1)."""
