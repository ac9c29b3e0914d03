"""The IA emulator (IA pipeline): data, network, deep ensemble, training, evaluation, the shipped artifact."""
