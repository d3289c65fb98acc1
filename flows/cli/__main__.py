"""`python -m flows.cli`: the `rcoi` command."""

from flows.cli import main

main()
