"""Sampler-agnostic HMC: NUTS (numpyro), emcee, diagnostics, fit outputs; no pipeline-specific code."""
