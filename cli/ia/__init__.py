"""The `iaemu` command (IA pipeline): one module per group of subcommands, assembled in `app`."""
