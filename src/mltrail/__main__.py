"""``python -m mltrail``: the ``mltrail`` command line."""

from mltrail.cli import main

main(prog_name="mltrail")
