"""Allow ``python -m dnaseq_cli``."""

from dnaseq_cli.cli.app import main

if __name__ == "__main__":
    main()
