"""The record types that flow between readers, windows and encoders."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Interval:
    """A genomic interval, 0-based half-open as in BED (region strings and VCF convert on entry)."""

    chrom: str
    start: int
    end: int
    strand: str = "+"

    def __post_init__(self) -> None:
        if self.start < 0 or self.end < self.start:
            raise ValueError(f"invalid interval {self.chrom}:{self.start}-{self.end}")
        if self.strand not in ("+", "-", "."):
            raise ValueError(f"invalid strand {self.strand!r}")

    def __len__(self) -> int:
        return self.end - self.start

    @property
    def region(self) -> str:
        """1-based closed region string, as samtools prints it."""
        return f"{self.chrom}:{self.start + 1}-{self.end}"


@dataclass
class SequenceRecord:
    """One named sequence with an optional label and the interval it came from."""

    name: str
    sequence: str
    label: str | float | int | None = None
    interval: Interval | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.sequence)
