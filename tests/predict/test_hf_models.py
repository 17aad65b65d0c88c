"""predict and vep with Hugging Face Caduceus folders: a classifier head, and an MLM (LLR scores)."""

import gzip
import json

import numpy as np
import pandas as pd
import pytest
import torch
from dnaseq_runner import run_in_process as run_cli
from safetensors.torch import load_file, save_file

from dnaseq_cli.encode.tokens import encode_chars
from dnaseq_cli.encode.vocab import MASK_ID
from dnaseq_cli.errors import InputError
from dnaseq_cli.models import factory
from dnaseq_cli.models.caduceus.hf_format import save_hf_checkpoint
from dnaseq_cli.models.heads import MaskedLM
from dnaseq_cli.predict.model import WindowScorer
from dnaseq_cli.vep.output import run_vep
from dnaseq_cli.vep.scoring import VariantEffectScorer

from .conftest import EXAMPLES

WINDOW = 64


def _caduceus(n_out: int | None):
    torch.manual_seed(0)
    spec = factory.model_spec("caduceus", "tiny", {"d_model": 16, "n_layer": 1})
    if n_out is None:
        return factory.build_backbone(spec).eval()
    return factory.build_classifier(spec, n_out).eval()


def test_hf_classifier_folder_predicts_like_the_model(tmp_path):
    model = _caduceus(2)
    save_hf_checkpoint(model, tmp_path / "hf")
    scorer = WindowScorer(tmp_path / "hf", window=WINDOW, device="cpu")
    assert scorer.info.task == "binary" and scorer.info.classes == ("0", "1")
    seq = "ACGT" * (WINDOW // 4)
    expected = torch.softmax(model(torch.from_numpy(encode_chars(seq))[None]), -1)[0]
    np.testing.assert_allclose(scorer.score([seq])[0], expected.detach().numpy(), rtol=1e-5)


def test_hf_masked_lm_folder_gives_llr_in_vep(tmp_path):
    backbone = _caduceus(None)
    save_hf_checkpoint(backbone, tmp_path / "mlm")
    scorer = WindowScorer(tmp_path / "mlm", window=WINDOW, device="cpu")
    assert scorer.info.task == "masked_lm" and scorer.lm is not None
    effect = VariantEffectScorer(scorer, EXAMPLES / "ref_brca1.fa")
    out = tmp_path / "v.tsv"
    run_vep(effect, EXAMPLES / "clinvar_brca1.refcoords.vcf.gz", str(out))
    table = pd.read_csv(out, sep="\t", na_values=".")
    assert "llr" in table.columns and "delta" not in table.columns
    snv = (table.REF.str.len() == 1) & (table.ALT.str.len() == 1)
    assert table.llr[snv].notna().all() and table.llr[~snv].isna().all()
    # The LLR of the first SNV recomputed by hand from the model's log-probabilities.
    row = table[snv].iloc[0]
    seq = open(EXAMPLES / "ref_brca1.fa").read().split("\n", 1)[1].replace("\n", "")
    start = row.POS - 1 - WINDOW // 2
    ids = torch.from_numpy(encode_chars(seq[start : start + WINDOW]))[None]
    ids[0, WINDOW // 2] = MASK_ID  # the zero-shot score reads the masked site
    with torch.no_grad():
        logp = MaskedLM(backbone)(ids)[0, WINDOW // 2]
    ref_id, alt_id = encode_chars(row.REF)[0], encode_chars(row.ALT)[0]
    assert row.llr == pytest.approx(float(logp[alt_id] - logp[ref_id]), rel=1e-4, abs=1e-5)


# -- Folders in the layout the reference Caduceus code saves ---------------------------------
# Built here from the published key names and shapes (kuleshov-group/caduceus modeling_caduceus.py,
# modeling_rcps.py and the Hub config.json), with random tensors: not with dnaseq's own writer.

D_MODEL, N_LAYER, VOCAB = 16, 2, 16  # vocab as saved: the reference pads 12 -> 16 before saving
D_INNER, D_STATE, D_CONV, DT_RANK = 2 * D_MODEL, 16, 4, 1  # expand 2, dt_rank "auto" = ceil(16/16)
COMPLEMENT = {str(i): i for i in range(VOCAB)} | {"7": 10, "8": 9, "9": 8, "10": 7}
PRE = "caduceus.backbone."


def reference_config(rcps: bool, task: str, n_labels: int = 2) -> dict:
    """config.json fields as the reference CaduceusConfig / PretrainedConfig write them."""
    arch = "CaduceusForSequenceClassification" if task == "clf" else "CaduceusForMaskedLM"
    config = {
        "architectures": [arch],
        "auto_map": {
            "AutoConfig": "configuration_caduceus.CaduceusConfig",
            "AutoModel": "modeling_caduceus.Caduceus",
            "AutoModelForMaskedLM": "modeling_caduceus.CaduceusForMaskedLM",
            "AutoModelForSequenceClassification": "modeling_caduceus.CaduceusForSequenceClassification",
        },
        "bidirectional": True, "bidirectional_strategy": "add", "bidirectional_weight_tie": True,
        "complement_map": COMPLEMENT, "d_model": D_MODEL, "fused_add_norm": True,
        "initializer_cfg": {"initializer_range": 0.02, "n_residuals_per_layer": 1,
                            "rescale_prenorm_residual": True},
        "model_type": "caduceus", "n_layer": N_LAYER, "norm_epsilon": 1e-05,
        "pad_vocab_size_multiple": 8, "rcps": rcps, "residual_in_fp32": False, "rms_norm": True,
        "ssm_cfg": {"bias": False, "conv_bias": True, "d_conv": D_CONV, "d_state": D_STATE,
                    "dt_init": "random", "dt_init_floor": 0.0001, "dt_max": 0.1, "dt_min": 0.001,
                    "dt_rank": "auto", "dt_scale": 1.0, "expand": 2, "use_fast_path": True},
        "torch_dtype": "float32", "transformers_version": "4.38.1", "vocab_size": VOCAB,
    }  # fmt: skip
    if n_labels != 2:  # PretrainedConfig writes the labels only when they differ from its default
        config["id2label"] = {str(i): f"LABEL_{i}" for i in range(n_labels)}
        config["label2id"] = {f"LABEL_{i}": i for i in range(n_labels)}
    return config


def _mamba(prefix: str, tensors: dict, fwd: str | None) -> None:
    """One mamba_ssm Mamba's parameters; `fwd` names the forward Mamba whose in/out_proj are tied."""
    tensors[prefix + "in_proj.weight"] = torch.randn(2 * D_INNER, D_MODEL) / D_MODEL**0.5
    tensors[prefix + "conv1d.weight"] = torch.randn(D_INNER, 1, D_CONV) * 0.3
    tensors[prefix + "conv1d.bias"] = torch.randn(D_INNER) * 0.1
    tensors[prefix + "x_proj.weight"] = torch.randn(DT_RANK + 2 * D_STATE, D_INNER) / D_INNER**0.5
    tensors[prefix + "dt_proj.weight"] = torch.randn(D_INNER, DT_RANK)
    tensors[prefix + "dt_proj.bias"] = torch.randn(D_INNER) * 0.5 - 3.0
    a = torch.arange(1, D_STATE + 1, dtype=torch.float32).repeat(D_INNER, 1)
    tensors[prefix + "A_log"] = a.log() + 0.1 * torch.randn(D_INNER, D_STATE)
    tensors[prefix + "D"] = torch.ones(D_INNER) + 0.1 * torch.randn(D_INNER)
    tensors[prefix + "out_proj.weight"] = torch.randn(D_MODEL, D_INNER) / D_INNER**0.5
    if fwd is not None:
        for name in ("in_proj.weight", "out_proj.weight"):
            tensors[prefix + name] = tensors[fwd + name]


def reference_state(rcps: bool, task: str, fmt: str, n_labels: int = 2, seed: int = 0) -> dict:
    """The tensors save_pretrained writes for CaduceusForSequenceClassification ("clf") or
    CaduceusForMaskedLM ("mlm"). As safetensors, tied tensors are written once (the first name in
    module order): the LM head matrix and the reverse Mamba's in/out_proj are left out; a
    pytorch_model.bin keeps every name."""
    torch.manual_seed(seed)
    tensors: dict[str, torch.Tensor] = {}
    cmap = torch.tensor([COMPLEMENT[str(i)] for i in range(VOCAB)], dtype=torch.long)
    if rcps:
        embedding = PRE + "embeddings.word_embeddings.embedding.weight"
        tensors[embedding] = torch.randn(VOCAB, D_MODEL)
        tensors[PRE + "embeddings.word_embeddings.complement_map"] = cmap.clone()
    else:
        embedding = PRE + "embeddings.word_embeddings.weight"
        tensors[embedding] = torch.randn(VOCAB, D_MODEL)
    mixer = ".mixer.submodule." if rcps else ".mixer."  # RCPSWrapper(BiMambaWrapper)
    for i in range(N_LAYER):
        fwd = f"{PRE}layers.{i}{mixer}mamba_fwd."
        _mamba(fwd, tensors, None)
        _mamba(f"{PRE}layers.{i}{mixer}mamba_rev.", tensors, fwd)
        tensors[f"{PRE}layers.{i}.norm.weight"] = 1 + 0.1 * torch.randn(D_MODEL)  # fused_add_norm
    tensors[PRE + "norm_f.weight"] = 1 + 0.1 * torch.randn(D_MODEL)
    if task == "clf":
        # nn.Linear(d_model, num_labels, bias=False), for PS too: it scores each strand half
        tensors["score.weight"] = torch.randn(n_labels, D_MODEL)
    else:
        if rcps:
            tensors["lm_head.complement_map"] = cmap.clone()  # RCPSLMHead buffer
        tensors["lm_head.lm_head.weight" if rcps else "lm_head.weight"] = tensors[embedding]
    if fmt == "safetensors":
        kept, out = set(), {}
        for key, tensor in tensors.items():
            if tensor.data_ptr() not in kept:
                kept.add(tensor.data_ptr())
                out[key] = tensor.clone()
        return out
    return tensors


def write_reference_folder(folder, rcps: bool, task: str, fmt: str = "safetensors", **kw):
    """A folder as `model.save_pretrained(folder)` leaves it; returns (folder, tensors)."""
    folder.mkdir(parents=True)
    config = reference_config(rcps, task, kw.get("n_labels", 2))
    (folder / "config.json").write_text(json.dumps(config, indent=2))
    tensors = reference_state(rcps, task, fmt, **kw)
    if fmt == "safetensors":
        save_file(tensors, str(folder / "model.safetensors"), metadata={"format": "pt"})
    else:
        torch.save(tensors, folder / "pytorch_model.bin")
    return folder, tensors


def revcomp(seq: str) -> str:
    return seq[::-1].translate(str.maketrans("ACGT", "TGCA"))


def random_windows(n: int, seed: int = 1) -> list[str]:
    rng = np.random.default_rng(seed)
    return ["".join(rng.choice(list("ACGT"), WINDOW)) for _ in range(n)]


def reference_head_logits(backbone, score: torch.Tensor, ids: torch.Tensor, rcps: bool):
    """CaduceusForSequenceClassification.forward's pooling and score, from the backbone's hidden
    states: PS stacks [fwd half, flip(rc half)] and averages the two scores; PH (conjoin_eval)
    scores the forward and the reverse-complement strand and averages."""
    if rcps:
        h = backbone(ids)
        halves = [h[..., :D_MODEL], torch.flip(h[..., D_MODEL:], dims=[1, 2])]
    else:
        halves = [backbone(ids), backbone(backbone.reverse_complement(ids)[0])]
    return sum(x.mean(dim=1) @ score.T for x in halves) / 2


@pytest.mark.parametrize("fmt", ["safetensors", "bin"])
@pytest.mark.parametrize("rcps", [True, False], ids=["ps", "ph"])
def test_reference_classifier_folder_scores_strand_symmetrically(tmp_path, rcps, fmt):
    folder, saved = write_reference_folder(tmp_path / "clf", rcps, "clf", fmt)
    assert not any(k.startswith("lm_head.") for k in saved)  # the published layout has no LM head
    scorer = WindowScorer(folder, window=WINDOW, device="cpu")
    assert scorer.info.task == "binary" and scorer.info.classes == ("0", "1")
    clf = scorer.classifier
    assert torch.equal(clf.head.score.weight, saved["score.weight"]) and clf.head.score.bias is None
    emb = clf.backbone.backbone.embeddings.word_embeddings
    assert torch.equal(emb.weight, saved[PRE + "embeddings.word_embeddings" + (
        ".embedding.weight" if rcps else ".weight")])  # fmt: skip
    bi = clf.backbone.backbone.layers[1].mixer
    bi = bi.submodule if rcps else bi
    assert bi.mamba_rev.in_proj.weight is bi.mamba_fwd.in_proj.weight  # re-tied, not left random
    seqs = random_windows(4)
    probs = scorer.score(seqs)
    assert probs.shape == (4, 2) and np.isfinite(probs).all()
    np.testing.assert_allclose(probs.sum(1), 1.0, rtol=1e-6)
    assert np.ptp(probs[:, 1]) > 1e-4  # the sequences are told apart
    np.testing.assert_allclose(scorer.score([revcomp(s) for s in seqs]), probs, atol=1e-5)
    ids = scorer.encode(seqs)
    with torch.no_grad():
        expected = torch.softmax(reference_head_logits(clf.backbone, saved["score.weight"], ids,
                                                       rcps), -1)  # fmt: skip
    np.testing.assert_allclose(probs, expected.numpy(), rtol=1e-4, atol=1e-6)


def test_reference_multiclass_folder_takes_its_labels(tmp_path):
    folder, saved = write_reference_folder(tmp_path / "clf", True, "clf", n_labels=3)
    scorer = WindowScorer(folder, window=WINDOW, device="cpu")
    assert scorer.info.task == "multiclass" and len(scorer.info.classes) == 3
    assert torch.equal(scorer.classifier.head.score.weight, saved["score.weight"])
    assert np.isfinite(scorer.score(random_windows(2))).all()


@pytest.mark.parametrize("fmt", ["safetensors", "bin"])
@pytest.mark.parametrize("rcps", [True, False], ids=["ps", "ph"])
def test_reference_masked_lm_folder_uses_the_embedding_as_lm_head(tmp_path, rcps, fmt):
    folder, saved = write_reference_folder(tmp_path / "mlm", rcps, "mlm", fmt)
    lm_key = "lm_head.lm_head.weight" if rcps else "lm_head.weight"
    assert (lm_key in saved) == (fmt == "bin")  # safetensors drops the tied matrix
    scorer = WindowScorer(folder, window=WINDOW, device="cpu")
    assert scorer.info.task == "masked_lm" and scorer.classifier is None
    model = scorer.lm.backbone
    emb = model.backbone.embeddings.word_embeddings
    head = model.lm_head.lm_head if rcps else model.lm_head
    assert head.weight is emb.weight
    E = saved[PRE + "embeddings.word_embeddings" + (".embedding.weight" if rcps else ".weight")]
    assert torch.equal(emb.weight, E)
    ids = scorer.encode(random_windows(2))
    with torch.no_grad():
        h = model(ids)
        logits = model.lm_logits(h)
    if rcps:  # RCPSLMHead: W x_fwd + W[complement] flip(x_rc)
        cmap = torch.tensor([COMPLEMENT[str(i)] for i in range(VOCAB)])
        expected = h[..., :D_MODEL] @ E.T + h[..., D_MODEL:].flip(-1) @ E[cmap].T
    else:
        expected = h @ E.T
    torch.testing.assert_close(logits, expected, rtol=1e-5, atol=1e-5)
    logp = scorer.log_probs(random_windows(2))
    assert np.isfinite(logp).all() and logp.shape == (2, WINDOW, VOCAB)


def _small_fasta(path):
    path.write_text("".join(f">s{i}\n{s}\n" for i, s in enumerate(random_windows(3, seed=2))))
    return path


def _small_vcf(path, n: int = 6):
    with gzip.open(EXAMPLES / "clinvar_brca1.refcoords.vcf.gz", "rt") as handle:
        lines = handle.read().splitlines()
    header = [line for line in lines if line.startswith("#")]
    records = [line for line in lines if not line.startswith("#")][:n]
    path.write_text("\n".join(header + records) + "\n")
    return path


@pytest.mark.parametrize("rcps", [True, False], ids=["ps", "ph"])
def test_dnaseq_predict_and_vep_take_reference_folders(tmp_path, rcps):
    clf, _ = write_reference_folder(tmp_path / "clf", rcps, "clf")
    fasta = _small_fasta(tmp_path / "s.fa")
    result = run_cli("predict", fasta, "--model", clf, "--window", WINDOW, "-o", tmp_path / "p.tsv")
    assert result.returncode == 0, result.stderr
    table = pd.read_csv(tmp_path / "p.tsv", sep="\t")
    assert len(table) == 3 and table.score.between(0, 1).all()

    mlm, _ = write_reference_folder(tmp_path / "mlm", rcps, "mlm")
    vcf = _small_vcf(tmp_path / "v.vcf")
    ref = EXAMPLES / "ref_brca1.fa"
    args = ("vep", vcf, "-r", ref, "--model", mlm, "--window", WINDOW, "-o", tmp_path / "v.tsv")
    result = run_cli(*args)
    assert result.returncode == 0, result.stderr
    table = pd.read_csv(tmp_path / "v.tsv", sep="\t", na_values=".")
    snv = (table.REF.str.len() == 1) & (table.ALT.str.len() == 1)
    assert snv.any() and np.isfinite(table.llr[snv]).all()


def _assert_one_line_error(result, file, *needles: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"dnaseq: error: {file}: "), result.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


def _rewrite(folder, change) -> None:
    weights = folder / "model.safetensors"
    tensors = load_file(weights)
    change(tensors)
    save_file(tensors, str(weights))


MIX = "layers.1.mixer.submodule."
BROKEN_REFERENCE_FOLDERS = [
    ("missing-backbone-layer", lambda t: t.pop(f"{PRE}{MIX}mamba_fwd.A_log"),
     [f"{PRE}{MIX}mamba_fwd.A_log", "missing"]),
    ("missing-final-norm", lambda t: t.pop(PRE + "norm_f.weight"), [PRE + "norm_f.weight"]),
    ("extra-tensor", lambda t: t.update({PRE + "layers.0.adapter.weight": torch.zeros(2)}),
     [PRE + "layers.0.adapter.weight", "unexpected"]),
    ("untied-lm-head", lambda t: t.update({"lm_head.lm_head.weight": torch.zeros(VOCAB, D_MODEL)}),
     ["lm_head.lm_head.weight", "tied", "differ"]),
    ("wrong-complement-buffer", lambda t: t.update({
        PRE + "embeddings.word_embeddings.complement_map": torch.arange(VOCAB)}),
     [PRE + "embeddings.word_embeddings.complement_map", '"complement_map"']),
    ("wrong-layer-shape", lambda t: t.update({PRE + "norm_f.weight": torch.ones(D_MODEL + 1)}),
     [PRE + "norm_f.weight", "shape"]),
]  # fmt: skip


@pytest.mark.parametrize(("change", "needles"), [c[1:] for c in BROKEN_REFERENCE_FOLDERS],
                         ids=[c[0] for c in BROKEN_REFERENCE_FOLDERS])  # fmt: skip
def test_broken_reference_folder_exits_2_naming_the_tensor(tmp_path, change, needles):
    folder, _ = write_reference_folder(tmp_path / "clf", True, "clf")
    _rewrite(folder, change)
    fasta = _small_fasta(tmp_path / "s.fa")
    result = run_cli("predict", fasta, "--model", folder, "--window", WINDOW, "-o", tmp_path / "o")
    _assert_one_line_error(result, folder / "model.safetensors", *needles)
    assert not (tmp_path / "o").exists()


def test_tied_tensors_saved_equal_in_a_bin_are_accepted_and_unequal_refused(tmp_path):
    folder, tensors = write_reference_folder(tmp_path / "mlm", False, "mlm", "bin")
    assert f"{PRE}layers.0.mixer.mamba_rev.in_proj.weight" in tensors
    assert WindowScorer(folder, window=WINDOW, device="cpu").lm is not None
    tensors = {k: v.clone() for k, v in tensors.items()}
    tensors[f"{PRE}layers.0.mixer.mamba_rev.out_proj.weight"] += 1.0
    torch.save(tensors, folder / "pytorch_model.bin")
    with pytest.raises(InputError, match="mamba_rev.out_proj.weight.*differ"):
        WindowScorer(folder, window=WINDOW, device="cpu")


def test_scoring_checks_config_json_once(tmp_path, monkeypatch):
    """WindowScorer reads and checks config.json once: the loader trusts the checked spec."""
    from dnaseq_cli.models import checkpoint
    from dnaseq_cli.models.caduceus import hf_format

    save_hf_checkpoint(_caduceus(2), tmp_path / "hf")
    handler = checkpoint._format(checkpoint.HF_CADUCEUS)
    check, calls = handler.check, []

    def counted(raw, path):
        calls.append(path)
        return check(raw, path)

    monkeypatch.setattr(hf_format, "check_hf_config", counted)  # a loader's own call
    counted_format = checkpoint.Format(handler.name, counted, handler.load)
    monkeypatch.setitem(checkpoint._FORMATS, checkpoint.HF_CADUCEUS, counted_format)
    WindowScorer(tmp_path / "hf", window=WINDOW, device="cpu")
    assert calls == [tmp_path / "hf" / "config.json"]
