"""Caduceus (BiMamba, RC-equivariant PS / post-hoc PH) backbone, registered as `caduceus`."""

from .bimamba import BiMambaWrapper
from .hf_format import load_hf_checkpoint, save_hf_checkpoint
from .mamba import Mamba
from .model import CaduceusConfig, CaduceusModel
from .selective_scan import selective_scan, selective_scan_chunked, selective_scan_reference

__all__ = [
    "BiMambaWrapper",
    "CaduceusConfig",
    "CaduceusModel",
    "Mamba",
    "load_hf_checkpoint",
    "save_hf_checkpoint",
    "selective_scan",
    "selective_scan_chunked",
    "selective_scan_reference",
]
