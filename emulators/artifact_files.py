"""The names of the files in an artifact directory (docs/ARCHITECTURE.md 3.2 and 3.6).

Torch-free, so that the JAX side (inference/) can read an artifact without importing torch.
"""

EMULATOR_JSON = "emulator.json"  # the IA emulator's description: architecture, scalers, bins, metrics
TAGGER_JSON = "tagger.json"  # a tagger's model name, config, input and training record
WEIGHTS = "weights.safetensors"  # every tensor, named as in the torch state dict
