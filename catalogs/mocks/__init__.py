"""HOD+IA mock galaxy catalogs and their correlation functions ξ, ω, η (IA pipeline)."""
