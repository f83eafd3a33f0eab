"""The ``mltrail`` command line: thin commands over library functions.

Each command module is imported only when its command runs, so ``mltrail --help`` starts fast.
"""

from mltrail.cli.main import main

__all__ = ["main"]
