"""The command-line layer. Importing it asks OpenMP to sleep rather than spin while waiting
(:func:`dnaseq_cli.threads.prefer_passive_waiting`), before any command module loads torch."""

from dnaseq_cli.threads import prefer_passive_waiting

prefer_passive_waiting()
