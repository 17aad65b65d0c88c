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

Gradient correction (input x gradient, on by default): a one-hot model is only ever evaluated on the
simplex (one base per position), but its gradient also has a component off it, along "more of every
base", which no real sequence can move along and which adds noise (Majdandzic et al., 2023,
"Correcting gradient-based interpretations of deep neural networks for genomics"). The corrected
attribution of a position is ``g[observed] - mean over A, C, G, T of g[base]``, where ``g[base]`` is
the derivative along that base's one-hot entry: the embedding gradient dotted with the embedding
the position's neighbourhood would have with that base (exact for a plain lookup and for the
hybrid's k-mer sums, the multilinear extension of a k-mer lookup). It is minus 3/4 of the mean
first-order (Taylor) estimate of replacing the base, so it reads like ISM's ``attribution``. On the
planted-motif test model 0.83 of its |attribution| sits on the motif, 0.64 uncorrected.

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
import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from os import PathLike
from typing import cast

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dnaseq_cli.encode.shuffle import dinucleotide_shuffle
from dnaseq_cli.encode.vocab import A_ID, C_ID, CHAR_COMPLEMENT_IDS, G_ID, PAD_ID, T_ID
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

    @property
    def reach(self) -> int:
        """How far (in positions) one base moves this site's output: a k-mer sum reaches k // 2."""
        return max(getattr(self.owner, "kmer_sizes", [1])) // 2 if self.method else 0

    def embed(self, ids: Tensor) -> Tensor:
        """The site's output ``[N, L, D]`` for char ids ``[N, L]`` (padding masked), unhooked."""
        if self.module is not None:
            return self.module(ids)
        assert self.method is not None  # a site is a module or a method
        return getattr(self.owner, self.method)(ids, ids != PAD_ID)


def _sites_of(
    classifier: nn.Module, encoding: str, path: str | PathLike[str] | None
) -> list[_Site]:
    members = getattr(classifier, "members", None)
    if members is not None:  # an ensemble: every member's sites, in call order
        sites = []
        encodings = cast("list[str]", classifier.encodings)  # an EnsembleClassifier's
        for member, member_encoding in zip(members, encodings, strict=True):
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


def check_differentiable(
    classifier: nn.Module, encoding: str, path: str | PathLike[str] | None = None
) -> None:
    """Exit 2 (naming the backbone) unless gradients can reach a per-base input."""
    _sites_of(classifier, encoding, path)


@dataclass
class _Injector:
    """Records each site call's output, or replaces it with the next given tensor."""

    sites: list[_Site]
    recorded: list[tuple[Tensor, Tensor]] = field(default_factory=list)  # (ids, output)
    called: list[_Site] = field(default_factory=list)  # the site of each recorded call
    queue: list[Tensor] | None = None

    def _after(self, site: _Site, ids: Tensor, output: Tensor) -> Tensor:
        if self.queue is None:
            self.recorded.append((ids.detach(), output.detach()))
            self.called.append(site)
            return output
        given = self.queue.pop(0)  # [B', S, L, D] -> the call's strand-major rows [S * B', L, D]
        return given.transpose(0, 1).reshape(-1, *given.shape[2:])

    @contextlib.contextmanager
    def active(self, queue: list[Tensor] | None) -> Iterator[None]:
        self.queue = None if queue is None else list(queue)
        self.recorded, self.called = [], []
        undo: list[Callable[[], object]] = []
        for site in self.sites:
            if site.module is not None:
                hook = site.module.register_forward_hook(
                    lambda _m, args, out, site=site: self._after(site, args[0], out)
                )
                undo.append(hook.remove)
            else:
                method = site.method
                assert method is not None  # a site is a module or a method
                original = getattr(site.owner, method)

                def replaced(
                    input_ids: Tensor, *args, _original=original, _site=site, **kwargs
                ) -> Tensor:
                    return self._after(_site, input_ids, _original(input_ids, *args, **kwargs))

                setattr(site.owner, method, replaced)
                undo.append(functools.partial(delattr, site.owner, method))
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


def _row_correction(site: _Site, row: Tensor, grad: Tensor) -> np.ndarray:
    """``g[observed] - mean_b g[b]`` at each position of one embedded row ``[L]``, where ``g[b]``
    is ``grad`` ``[L, D]`` dotted with the site's output around the position with base ``b`` there
    (each position's neighbourhood embedded five times: as it is and with A, C, G, T)."""
    reach = site.reach
    half = 2 * reach  # a crop this wide gives the central 2 * reach + 1 outputs exactly
    positions = (row != PAD_ID).nonzero()[:, 0]
    out = np.zeros(row.shape[0])
    if len(positions) == 0:
        return out
    crops = F.pad(row.long(), (half, half), value=PAD_ID).unfold(0, 2 * half + 1, 1)[positions]
    variants = crops[:, None, :].repeat(1, 5, 1)
    variants[:, 1:, half] = torch.tensor([A_ID, C_ID, G_ID, T_ID])
    with torch.no_grad():
        embedded = site.embed(variants.reshape(-1, crops.shape[1]))
    embedded = embedded.reshape(len(positions), 5, crops.shape[1], -1)
    central = embedded[:, :, half - reach : half + reach + 1].double()
    around = F.pad(grad.double(), (0, 0, reach, reach)).unfold(0, 2 * reach + 1, 1)[positions]
    along = torch.einsum("pvwd,pdw->pv", central, around)  # [P, 5]: as it is, then A C G T
    out[positions.numpy()] = (along[:, 0] - along[:, 1:].mean(1)).numpy()
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

    def _record(self, ids: Tensor) -> tuple[list[Tensor], list[tuple[Tensor, Tensor]]]:
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
        self,
        ids: Tensor,
        method: str,
        steps: int = 32,
        baselines: int = 8,
        correct: bool = True,
    ) -> tuple[np.ndarray, float]:
        """Attribution per window position ``[L]`` and the target value, for char ids ``[L]``;
        ``steps`` and ``baselines`` are integrated gradients' points per path and shuffles,
        ``correct`` applies the gradient correction to input x gradient."""
        from captum.attr import InputXGradient, IntegratedGradients, Saliency

        natural, recorded = self._record(ids)
        called = list(self.injector.called)
        maps = _position_maps(ids, recorded)
        inputs = tuple(x.clone().requires_grad_(True) for x in natural)
        extra = (ids[None],)
        with torch.no_grad():
            value = float(self._forward(*inputs, ids[None])[0])
        if method == "saliency":
            raw = Saliency(self._forward).attribute(inputs, additional_forward_args=extra, abs=True)
        elif method == "input-x-gradient" and correct:
            grads = Saliency(self._forward).attribute(
                inputs, additional_forward_args=extra, abs=False
            )
            grads = grads if isinstance(grads, tuple) else (grads,)
            total = np.zeros(ids.shape[0])
            for grad, (call_ids, _), site, groups in zip(
                grads, recorded, called, maps, strict=True
            ):
                for s, where in enumerate(groups):
                    np.add.at(total, where, _row_correction(site, call_ids[s], grad[0, s].detach()))
            total[(ids == PAD_ID).numpy()] = 0.0
            return total, value
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
