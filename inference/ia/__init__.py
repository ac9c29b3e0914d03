"""IA fits (IA pipeline): observations, the JAX emulator, the likelihood, fits, calibration and validation."""
