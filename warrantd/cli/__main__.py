"""``python -m warrantd.cli``: the same as the ``warrantd`` command."""

from . import main

main()
