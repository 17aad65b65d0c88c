"""Compatibility name: the output rules live in :mod:`dnaseq_cli.output`."""

from dnaseq_cli.output import atomic_directory, atomic_path, normal_mode

__all__ = ["atomic_directory", "atomic_path", "normal_mode"]
