"""Top taggers (HEP pipeline): LorentzNet, L-GATr, PFN, their data, training, metrics and artifacts."""
