"""``python -m nof1`` runs the command line."""

from .cli import main

main()
