"""torch models and their training, the middle layer: the IA emulator and the top taggers
(docs/ARCHITECTURE.md section 1)."""
