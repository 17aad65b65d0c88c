"""Gradient attributions (saliency, input x gradient, integrated gradients) through the base embedding.

Why the embedding: every backbone that reads character ids turns them into vectors with a lookup
(``nn.Embedding``, or the hybrid's sum of centred k-mer lookups). That lookup's output is the
model's first differentiable tensor, so it is the "input" the gradients are taken against; the
attribution of a position is the sum over embedding channels. For a plain character embedding this
is the one-hot attribution exactly: the embedding is ``onehot @ E``, so input x gradient is the
gradient at the observed base and IG is one-hot IG with the baseline below.

Strands: the model is run as ``predict`` runs it (both strands averaged inside its own forward), the
embedding outputs of both strands are inputs, and the reverse strand's attributions are mapped back
onto the forward positions (mirror within the valid prefix) and added: the attributions of the
strand-averaged score, whose sum IG completes.

Target: the log-odds of the explained class (``log p - log(1 - p)``), or the value of a regression.

Integrated gradients (Captum, Gauss-Legendre, ``steps`` points per path): the baselines are
``baselines`` dinucleotide-shuffled copies of the window (:mod:`dnaseq_cli.encode.shuffle`; the valid
part shuffled, padding kept, seeded so a window always gets the same ones), and the attribution is
the mean of the IG from each, so it sums to f(window) minus the mean of f(shuffles). Why not a
uniform 0.25 "average base": on a planted-motif CNN that input scored log-odds +27.7, far outside
anything the model was trained on, and the attributions spread over every position; shuffles of
the same composition score like negatives (-1.3) and the share of attribution on the motif doubled.

Backbones whose input is k-mer tokens (``kmer``, ``gnn``, a k-mer ``bigbird``) have no per-base
tensor to differentiate: :func:`check_differentiable` refuses them, naming the backbone.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor, nn

from dnaseq_cli.encode.shuffle import dinucleotide_shuffle
from dnaseq_cli.encode.vocab import CHAR_COMPLEMENT_IDS, PAD_ID
from dnaseq_cli.errors import InputError

METHODS = ("saliency", "input-x-gradient", "integrated-gradients")


def backbone_name(backbone: nn.Module) -> str:
    """The registry name of a backbone (``cnn``, ``kmer``...), else its class name."""
    from dnaseq_cli.models import registry

    for name in registry.available():
        if type(backbone) is registry.get(name):
            return name
    return type(backbone).__name__


@dataclass
class _Site:
    """One place where base ids become vectors: a module (hooked) or the hybrid's ``embed``."""

    owner: nn.Module
    module: nn.Module | None = None  # hooked with a forward hook
    method: str | None = None  # or an instance method replaced for the duration


def _sites_of(classifier: nn.Module, encoding: str, path: object) -> list[_Site]:
    members = getattr(classifier, "members", None)
    if members is not None:  # an ensemble: every member's sites, in call order
        sites = []
        for member, member_encoding in zip(members, classifier.encodings, strict=True):
            sites += _sites_of(member, member_encoding, path)
        return sites
    backbone = getattr(classifier, "backbone", None)
    name = "?" if backbone is None else backbone_name(backbone)
    hint = "; use --method ism, which works for every model"
    if backbone is None or encoding != "char" or name in ("kmer", "gnn"):
        what = "graph nodes of k-mer tokens" if name == "gnn" else "k-mer tokens"
        raise InputError(
            f"gradient attributions need a per-base input, and the {name} backbone reads {what}"
            + hint,
            path=path,
        )
    if name == "hybrid":
        return [_Site(owner=backbone, method="embed")]
    if name == "caduceus":
        embedding = backbone.backbone.embeddings.word_embeddings
        inner = getattr(embedding, "embedding", None)
        return [_Site(owner=backbone, module=inner if inner is not None else embedding)]
    embed = getattr(backbone, "embed", None)
    if isinstance(embed, nn.Embedding):
        return [_Site(owner=backbone, module=embed)]
    raise InputError(f"no per-base embedding found in the {name} backbone{hint}", path=path)


def check_differentiable(classifier: nn.Module, encoding: str, path: object = None) -> None:
    """Exit 2 (naming the backbone) unless gradients can reach a per-base input."""
    _sites_of(classifier, encoding, path)


@dataclass
class _Injector:
    """Records each site call's output, or replaces it with the next given tensor."""

    sites: list[_Site]
    recorded: list[tuple[Tensor, Tensor]] = field(default_factory=list)  # (ids, output)
    queue: list[Tensor] | None = None

    def _after(self, ids: Tensor, output: Tensor) -> Tensor:
        if self.queue is None:
            self.recorded.append((ids.detach(), output.detach()))
            return output
        given = self.queue.pop(0)  # [B', S, L, D] -> the call's strand-major rows [S * B', L, D]
        return given.transpose(0, 1).reshape(-1, *given.shape[2:])

    @contextlib.contextmanager
    def active(self, queue: list[Tensor] | None) -> Iterator[None]:
        self.queue = None if queue is None else list(queue)
        self.recorded = []
        undo = []
        for site in self.sites:
            if site.module is not None:
                hook = site.module.register_forward_hook(
                    lambda _m, args, out: self._after(args[0], out)
                )
                undo.append(hook.remove)
            else:
                original = getattr(site.owner, site.method)

                def replaced(input_ids: Tensor, *args, _original=original, **kwargs) -> Tensor:
                    return self._after(input_ids, _original(input_ids, *args, **kwargs))

                setattr(site.owner, site.method, replaced)
                undo.append(lambda owner=site.owner, m=site.method: delattr(owner, m))
        try:
            yield
        finally:
            for step in undo:
                step()
            self.queue = None


def _rc_prefix(ids: Tensor, length: int) -> Tensor:
    table = torch.tensor(list(CHAR_COMPLEMENT_IDS))
    out = ids.clone()
    out[:length] = table[ids[:length].flip(0).long()]
    return out


def _position_maps(ids: Tensor, recorded: list[tuple[Tensor, Tensor]]) -> list[list[np.ndarray]]:
    """For each site call and strand group, the window position of each row position."""
    length = ids.shape[0]
    valid = int((ids != PAD_ID).sum())
    identity = np.arange(length)
    mirror = identity.copy()
    mirror[:valid] = valid - 1 - identity[:valid]
    flipped = identity[::-1].copy()
    table = torch.tensor(list(CHAR_COMPLEMENT_IDS))
    candidates = [
        (ids, identity),
        (_rc_prefix(ids, valid), mirror),
        (table[ids.flip(0).long()], flipped),
    ]
    maps = []
    for call_ids, _ in recorded:
        groups = []
        for s, row in enumerate(call_ids):
            if row.shape[0] != length:
                raise InputError("the model adds tokens around the window; use --method ism")
            order = candidates if s == 0 else candidates[1:] + candidates[:1]
            for seen, where in order:
                if torch.equal(row.long(), seen.long()):
                    groups.append(where)
                    break
            else:
                raise InputError("cannot map the model's embedding rows to positions; use ism")
        maps.append(groups)
    return maps


class GradientExplainer:
    """Attributions of one classifier's target (log-odds of a class, or a regression value)."""

    def __init__(self, classifier: nn.Module, encoding: str, task: str, column: int, path=None):
        self.classifier = classifier
        self.injector = _Injector(_sites_of(classifier, encoding, path))
        self.task, self.column = task, column

    def _target(self, out: Tensor) -> Tensor:
        if self.task == "regression":
            return out[:, self.column]
        logp = torch.log_softmax(out.float(), -1)
        own = logp[:, self.column]
        if logp.shape[1] == 2:
            return own - logp[:, 1 - self.column]
        rest = torch.cat([logp[:, : self.column], logp[:, self.column + 1 :]], 1)
        return own - torch.logsumexp(rest, -1)

    def _forward(self, *args: Tensor) -> Tensor:
        *embeds, ids = args
        with self.injector.active(list(embeds)):
            out = self.classifier(ids, ids != PAD_ID)
        return self._target(out)

    def _record(self, ids: Tensor) -> list[Tensor]:
        """Natural site outputs for one window ``[L]``, as inputs ``[1, S, L, D]`` per call."""
        with torch.no_grad(), self.injector.active(None):
            self.classifier(ids[None], (ids != PAD_ID)[None])
        return [out.unsqueeze(0) for _, out in self.injector.recorded], list(self.injector.recorded)

    def baselines(self, ids: Tensor, count: int, seed: int = 0) -> list[list[Tensor]]:
        """The site inputs of ``count`` dinucleotide shuffles of the window's valid part."""
        valid = int((ids != PAD_ID).sum())
        rng = np.random.default_rng(seed)
        out = []
        for _ in range(count):
            shuffled = ids.clone()
            shuffled[:valid] = torch.from_numpy(dinucleotide_shuffle(ids[:valid].numpy(), rng))
            out.append(self._record(shuffled)[0])
        return out

    def attribute(
        self, ids: Tensor, method: str, steps: int = 32, baselines: int = 8
    ) -> tuple[np.ndarray, float]:
        """Attribution per window position ``[L]`` and the target value, for char ids ``[L]``;
        ``steps`` and ``baselines`` are integrated gradients' points per path and shuffles."""
        from captum.attr import InputXGradient, IntegratedGradients, Saliency

        inputs, recorded = self._record(ids)
        maps = _position_maps(ids, recorded)
        inputs = tuple(x.clone().requires_grad_(True) for x in inputs)
        extra = (ids[None],)
        with torch.no_grad():
            value = float(self._forward(*inputs, ids[None])[0])
        if method == "saliency":
            raw = Saliency(self._forward).attribute(inputs, additional_forward_args=extra, abs=True)
        elif method == "input-x-gradient":
            raw = InputXGradient(self._forward).attribute(inputs, additional_forward_args=extra)
        elif method == "integrated-gradients":
            parts = []
            for baseline in self.baselines(ids, baselines):
                part = IntegratedGradients(self._forward).attribute(
                    inputs,
                    baselines=tuple(baseline),
                    additional_forward_args=extra,
                    n_steps=steps,
                    internal_batch_size=steps,
                )
                parts.append(part if isinstance(part, tuple) else (part,))
            raw = tuple(torch.stack(column).mean(0) for column in zip(*parts, strict=True))
        else:
            raise InputError(f"unknown attribution method {method!r}")
        if not isinstance(raw, tuple):
            raw = (raw,)
        total = np.zeros(ids.shape[0])
        for attribution, groups in zip(raw, maps, strict=True):
            per_position = attribution[0].detach().double().sum(-1).numpy()  # [S, L]
            for s, where in enumerate(groups):
                np.add.at(total, where, per_position[s])
        total[(ids == PAD_ID).numpy()] = 0.0
        return total, value
