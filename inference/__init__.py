"""JAX likelihoods and HMC, the top library layer: sampling, IA fits, template fits (docs/ARCHITECTURE.md
section 1)."""
