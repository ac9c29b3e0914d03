"""Top and QCD jets (HEP pipeline): Pythia 8 + FastJet generation, selection, mixing, JetClass-style ROOT
files."""
