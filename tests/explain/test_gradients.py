"""Gradient attributions: every char-reading backbone, exact for a one-hot-like embedding,
completeness of integrated gradients, refusal (exit 2, naming the backbone) for k-mer inputs."""

import numpy as np
import pytest
import torch
from dnaseq_runner import run_in_process as run_cli

from dnaseq_cli.encode.vocab import CHAR_COMPLEMENT_IDS, PAD_ID
from dnaseq_cli.errors import InputError
from dnaseq_cli.explain.gradients import GradientExplainer
from dnaseq_cli.predict.model import WindowScorer

from .conftest import WINDOW, save_model


def _seq(n: int, seed: int = 0) -> str:
    return "".join(np.random.default_rng(seed).choice(list("ACGT"), n))


def _explainer(folder):
    scorer = WindowScorer(folder, device="cpu")
    return scorer, GradientExplainer(
        scorer.classifier, scorer.info.model_encoding, scorer.info.task, 1
    )


def _log_odds(scorer, seq):
    p = scorer.score([seq])[0, 1]
    return np.log(p) - np.log1p(-p)


@pytest.mark.parametrize("backbone", ["cnn", "hybrid", "caduceus"])
def test_every_char_backbone_gets_attributions(backbone, tmp_path):
    scorer, explainer = _explainer(save_model(tmp_path / backbone, backbone))
    seq = _seq(WINDOW)
    ids = scorer.encode([seq])[0]
    for method in ("saliency", "input-x-gradient", "integrated-gradients"):
        values, target = explainer.attribute(ids, method, steps=16)
        assert values.shape == (WINDOW,) and np.isfinite(values).all()
        assert np.abs(values).sum() > 0
    assert abs(target - _log_odds(scorer, seq)) < 1e-4  # the target is the model's own log-odds


def test_integrated_gradients_complete_to_the_mean_of_the_shuffled_baselines(cnn_model):
    """Sum of IG = f(x) - mean over the baselines of f(baseline), the baselines being seeded
    dinucleotide shuffles of the window (the same ones on every call)."""
    scorer, explainer = _explainer(cnn_model)
    ids = scorer.encode([_seq(WINDOW, 1)])[0]
    values, target = explainer.attribute(ids, "integrated-gradients", steps=64, baselines=3)
    again, _ = explainer.attribute(ids, "integrated-gradients", steps=64, baselines=3)
    assert np.array_equal(values, again)
    with torch.no_grad():
        base_values = [
            float(explainer._forward(*baseline, ids[None])[0])
            for baseline in explainer.baselines(ids, 3)
        ]
    gap = target - float(np.mean(base_values))
    assert abs(values.sum() - gap) < 2e-3 * max(1.0, abs(gap))


def test_input_x_gradient_is_the_one_hot_gradient_at_the_observed_base(cnn_model):
    """For a plain embedding, e = onehot @ E: the embedding-space input x gradient equals the
    derivative of the log-odds along the observed base's one-hot entry."""
    scorer, explainer = _explainer(cnn_model)
    seq = _seq(WINDOW, 2)
    ids = scorer.encode([seq])[0]
    values, _ = explainer.attribute(ids, "input-x-gradient", correct=False)
    backbone = scorer.classifier.backbone
    weight = backbone.embed.weight.detach().double()
    complement = list(CHAR_COMPLEMENT_IDS)

    def log_odds(pos: int, step: float) -> float:
        """Log-odds with the observed base's one-hot entry at ``pos`` raised by ``step``."""
        row = int(ids[pos])

        def nudge(module, args, out):
            out = out.clone()
            half = out.shape[0] // 2  # rows: forward strand, then its reverse complement
            out[:half, pos] += step * weight[row].to(out.dtype)
            out[half:, WINDOW - 1 - pos] += step * weight[complement[row]].to(out.dtype)
            return out

        handle = backbone.embed.register_forward_hook(nudge)
        try:
            with torch.no_grad():
                logp = torch.log_softmax(scorer.classifier(ids[None], (ids != PAD_ID)[None]), -1)
        finally:
            handle.remove()
        return float(logp[0, 1] - logp[0, 0])

    scorer.classifier.double()
    try:
        for pos in range(0, WINDOW, 13):
            grad = (log_odds(pos, 1e-4) - log_odds(pos, -1e-4)) / 2e-4
            assert abs(grad - values[pos]) < 1e-4 * max(1.0, abs(values[pos]))
    finally:
        scorer.classifier.float()


@pytest.mark.parametrize("backbone", ["cnn", "hybrid", "caduceus"])
def test_corrected_input_x_gradient_against_whole_mutated_windows(backbone, tmp_path):
    """The correction, g[observed] - mean_b g[b], computed the slow way: each of the 4 one-base
    variants of the window is run through the model, its embedding recorded whole, and dotted with
    the embedding gradient of the window (for the hybrid's k-mer sums too, where one base moves
    several positions' embeddings)."""
    from captum.attr import Saliency

    scorer, explainer = _explainer(save_model(tmp_path / backbone, backbone))
    ids = scorer.encode([_seq(WINDOW, 3)])[0]
    values, _ = explainer.attribute(ids, "input-x-gradient")
    inputs, _ = explainer._record(ids)
    inputs = tuple(x.clone().requires_grad_(True) for x in inputs)
    grads = Saliency(explainer._forward).attribute(
        inputs, additional_forward_args=(ids[None],), abs=False
    )
    grads = grads if isinstance(grads, tuple) else (grads,)

    def along(variant: torch.Tensor) -> float:
        embedded, _ = explainer._record(variant)
        return sum(
            float((g.double() * e.double()).sum()) for g, e in zip(grads, embedded, strict=True)
        )

    for pos in range(0, WINDOW, 11):
        here = along(ids)
        bases = []
        for code in (7, 8, 9, 10):
            variant = ids.clone()
            variant[pos] = code
            bases.append(along(variant))
        expected = here - float(np.mean(bases))
        assert abs(values[pos] - expected) < 1e-5 * max(1.0, abs(expected))


@pytest.mark.parametrize("backbone", ["kmer", "gnn"])
def test_kmer_and_graph_backbones_are_refused_naming_the_backbone(backbone, tmp_path):
    folder = save_model(tmp_path / backbone, backbone)
    scorer = WindowScorer(folder, device="cpu")
    with pytest.raises(InputError, match=f"the {backbone} backbone reads .*--method ism"):
        GradientExplainer(scorer.classifier, scorer.info.model_encoding, scorer.info.task, 1)
    fasta = tmp_path / "x.fa"
    fasta.write_text(f">a\n{_seq(WINDOW)}\n")
    result = run_cli("explain", fasta, "-m", folder, "--method", "saliency", "-o", tmp_path / "o")
    assert result.returncode == 2
    assert backbone in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_bundled_ensemble_refuses_gradients_naming_its_kmer_member(tmp_path):
    fasta = tmp_path / "x.fa"
    fasta.write_text(f">a\n{_seq(500)}\n")
    result = run_cli("explain", fasta, "--method", "integrated-gradients", "-o", tmp_path / "o")
    assert result.returncode == 2 and "kmer backbone" in result.stderr
