"""The `toptag` command (HEP pipeline): one module per group of subcommands, assembled in `app`."""
