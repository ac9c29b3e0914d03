"""Signal-fraction fits on tagger-score templates (HEP pipeline)."""
