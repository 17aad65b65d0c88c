"""predict and vep with Hugging Face Caduceus folders: a classifier head, and an MLM (LLR scores)."""

import numpy as np
import pandas as pd
import pytest
import torch

from dnaseq_cli.encode.tokens import encode_chars
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
    with torch.no_grad():
        logp = MaskedLM(backbone)(ids)[0, WINDOW // 2]
    ref_id, alt_id = encode_chars(row.REF)[0], encode_chars(row.ALT)[0]
    assert row.llr == pytest.approx(float(logp[alt_id] - logp[ref_id]), rel=1e-4, abs=1e-5)
