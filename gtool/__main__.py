"""`python -m gtool` runs the command line."""

from gtool.cli import main

main()
