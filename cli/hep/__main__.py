"""`python -m cli.hep`: the `toptag` command where its console script is not installed (a GPU machine)."""

from cli.hep.app import main

main()
