"""Sources of halo catalogs (IA pipeline): the embedded N-body run and its halo finder, halotools, rockstar,
HDF5."""
