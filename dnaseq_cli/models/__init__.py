"""Model registry, shared heads and backbones (`build("caduceus", ...)`)."""

from .checkpoint import load_checkpoint, save_checkpoint
from .heads import MaskedLM, SequenceClassifier, SequenceHead, masked_mean
from .registry import Backbone, BackboneConfig, available, build, get, register

__all__ = [
    "Backbone",
    "BackboneConfig",
    "MaskedLM",
    "SequenceClassifier",
    "SequenceHead",
    "available",
    "build",
    "get",
    "load_checkpoint",
    "masked_mean",
    "register",
    "save_checkpoint",
]
