"""vep's masked-LM ``llr``: the variant's reference bases replaced by [MASK], log p(alt) - log p(ref)
read there, both strands for PH models. Checked against the model's outputs computed by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from dnaseq_cli.encode.tokens import encode_chars
from dnaseq_cli.encode.vocab import CHAR_COMPLEMENT_IDS, MASK_ID
from dnaseq_cli.models import factory
from dnaseq_cli.models.caduceus.hf_format import save_hf_checkpoint
from dnaseq_cli.predict.model import WindowScorer
from dnaseq_cli.vep.output import run_vep
from dnaseq_cli.vep.scoring import VariantEffectScorer

WINDOW = 32


def backbone(rcps: bool):
    torch.manual_seed(1)
    spec = factory.model_spec("caduceus", "tiny", {"d_model": 16, "n_layer": 1, "rcps": rcps})
    return factory.build_backbone(spec).eval()


def by_hand(model, window: str, positions: list[int], conjoin: bool) -> torch.Tensor:
    """log p at ``positions`` of the masked window; for PH the RC strand's, mapped back, mixed in."""
    ids = torch.from_numpy(encode_chars(window))[None]
    ids[0, positions] = MASK_ID
    with torch.no_grad():
        logp = F.log_softmax(model.lm_logits(model(ids)), -1)[0]
        if not conjoin:
            return logp[positions]
        complement = torch.tensor(CHAR_COMPLEMENT_IDS)
        rc_ids = complement[ids.flip(-1)]
        rc_logp = F.log_softmax(model.lm_logits(model(rc_ids)), -1)[0].flip(0)
        vocab = torch.arange(rc_logp.shape[-1])  # the head pads the vocabulary: extra ids stay
        vocab[: len(complement)] = complement
        rc = rc_logp[:, vocab]
    both = torch.logsumexp(torch.stack([logp, rc]), 0) - np.log(2.0)
    return both[positions]


@pytest.mark.parametrize("rcps", [True, False], ids=["PS", "PH"])
def test_llr_is_read_at_the_masked_site(tmp_path, rcps):
    model = backbone(rcps)
    save_hf_checkpoint(model, tmp_path / "mlm")
    rng = np.random.default_rng(3)
    contig = "".join(rng.choice(list("ACGT"), 200))
    (tmp_path / "ref.fa").write_text(f">c\n{contig}\n")
    snv_pos, mnv_pos = 100, 60  # 1-based
    snv_alt = "A" if contig[snv_pos - 1] != "A" else "C"
    mnv_ref = contig[mnv_pos - 1 : mnv_pos + 1]
    mnv_alt = "".join("T" if b != "T" else "G" for b in mnv_ref)
    (tmp_path / "v.vcf").write_text(
        "##fileformat=VCFv4.2\n##contig=<ID=c,length=200>\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
        f"c\t{snv_pos}\tsnv\t{contig[snv_pos - 1]}\t{snv_alt}\t.\t.\t.\n"
        f"c\t{mnv_pos}\tmnv\t{mnv_ref}\t{mnv_alt}\t.\t.\t.\n"
    )
    scorer = WindowScorer(tmp_path / "mlm", window=WINDOW, device="cpu")
    run_vep(VariantEffectScorer(scorer, tmp_path / "ref.fa"), tmp_path / "v.vcf",
            str(tmp_path / "out.tsv"))  # fmt: skip
    table = pd.read_csv(tmp_path / "out.tsv", sep="\t", na_values=".").set_index("ID")
    for name, pos, ref, alt in (("snv", snv_pos, contig[snv_pos - 1], snv_alt),
                                ("mnv", mnv_pos, mnv_ref, mnv_alt)):  # fmt: skip
        start = pos - 1 - WINDOW // 2
        sites = list(range(WINDOW // 2, WINDOW // 2 + len(ref)))
        logp = by_hand(model, contig[start : start + WINDOW], sites, conjoin=not rcps)
        rows = torch.arange(len(ref))
        expected = (logp[rows, torch.from_numpy(encode_chars(alt))]
                    - logp[rows, torch.from_numpy(encode_chars(ref))]).sum()  # fmt: skip
        assert table.loc[name, "llr"] == pytest.approx(float(expected), rel=1e-4, abs=1e-5)
        # reading the unmasked window instead (the old llr) gives another number
        ids = torch.from_numpy(encode_chars(contig[start : start + WINDOW]))[None]
        with torch.no_grad():
            seen = F.log_softmax(model.lm_logits(model(ids)), -1)[0, sites]
        old = (seen[rows, torch.from_numpy(encode_chars(alt))]
               - seen[rows, torch.from_numpy(encode_chars(ref))]).sum()  # fmt: skip
        assert abs(float(old) - table.loc[name, "llr"]) > 1e-3
