"""Caduceus backbone: selective scan, BiMamba, RC equivariance, masks, checkpoints, HF format."""

from __future__ import annotations

import json
import math

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn

from dnaseq_cli.models import (
    MaskedLM,
    SequenceClassifier,
    available,
    build,
    load_checkpoint,
    register,
    save_checkpoint,
)
from dnaseq_cli.models.caduceus import (
    CaduceusModel,
    Mamba,
    load_hf_checkpoint,
    save_hf_checkpoint,
    selective_scan_chunked,
    selective_scan_reference,
)
from dnaseq_cli.models.caduceus.model import CaduceusBlock, CaduceusConfig
from dnaseq_cli.models.caduceus.rcps import RMSNorm

PAD, A, C, G, T = 4, 7, 8, 9, 10
TINY = dict(d_model=16, n_layer=2)


def _scan_inputs(b: int, d: int, n: int, length: int, dt_scale: float = 1.0, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    dt0 = torch.exp(torch.rand(d, generator=g) * (math.log(0.1) - math.log(1e-3)) + math.log(1e-3))
    return dict(
        u=torch.randn(b, d, length, generator=g),
        delta=torch.randn(b, d, length, generator=g) * dt_scale,
        A=-torch.exp(torch.randn(d, n, generator=g) * 0.5) * torch.arange(1, n + 1),
        B=torch.randn(b, n, length, generator=g),
        C=torch.randn(b, n, length, generator=g),
        D=torch.randn(d, generator=g),
        z=torch.randn(b, d, length, generator=g),
        delta_bias=dt0 + torch.log(-torch.expm1(-dt0)),  # Mamba's dt bias init
        delta_softplus=True,
    )


def _ids(b: int, length: int, seed: int = 0) -> torch.Tensor:
    return torch.randint(A, T + 1, (b, length), generator=torch.Generator().manual_seed(seed))


def _model(seed: int = 0, **cfg) -> CaduceusModel:
    torch.manual_seed(seed)
    return build("caduceus", **(TINY | cfg)).eval()


# ---------------------------------------------------------------- selective scan


@pytest.mark.parametrize("length", [1, 5, 97, 256])
@pytest.mark.parametrize("chunk", [16, 32, 100])
def test_chunked_scan_matches_reference(length: int, chunk: int) -> None:
    kw = _scan_inputs(2, 8, 16, length)
    ref, ref_h = selective_scan_reference(**kw, return_last_state=True)
    out, h = selective_scan_chunked(**kw, return_last_state=True, chunk_size=chunk)
    assert (out - ref).abs().max() < 1e-5
    assert (h - ref_h).abs().max() < 1e-5


def test_chunked_scan_fast_decay_is_stable() -> None:
    """dt*|A| far beyond fp32's exp range inside one chunk: rows get split, results stay exact."""
    kw = _scan_inputs(2, 8, 16, 200, dt_scale=8.0, seed=1)
    kw64 = {k: v.double() if torch.is_tensor(v) else v for k, v in kw.items()}
    ref = selective_scan_reference(**kw64)  # fp64 ground truth
    out = selective_scan_chunked(**kw, chunk_size=64).double()
    assert torch.isfinite(out).all()
    # fp32 log-space factors carry ~ |A| sum(dt) eps relative error (the fp32 recurrence ~1e-6)
    assert ((out - ref).abs() / (ref.abs() + 1)).max() < 5e-5


@pytest.mark.parametrize("chunk", [1, 7, 32, 64, 128])
@pytest.mark.parametrize("length", [1, 31, 33, 200, 517])
@pytest.mark.parametrize("block", [1, 4096, 1 << 20])
def test_inference_scan_matches_reference_any_chunk_and_block(
    chunk: int, length: int, block: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lengths not divisible by the chunk (tail chunk), one or many chunks per block, batch 2."""
    import importlib

    ss = importlib.import_module("dnaseq_cli.models.caduceus.selective_scan")
    monkeypatch.setattr(ss, "BLOCK_ELEMENTS", block)
    kw = _scan_inputs(2, 8, 16, length, seed=length)
    ref, ref_h = selective_scan_reference(**kw, return_last_state=True)
    with torch.inference_mode():
        out, h = selective_scan_chunked(**kw, return_last_state=True, chunk_size=chunk)
    assert out.shape == ref.shape and h.shape == ref_h.shape
    assert (out - ref).abs().max() < 1e-5
    assert (h - ref_h).abs().max() < 1e-5


def test_inference_scan_reads_time_major_views() -> None:
    """Mamba passes (b, L, d) projections transposed to (b, d, L): same result as contiguous input."""
    kw = _scan_inputs(2, 8, 16, 150, seed=3)
    strided = {
        k: v.transpose(1, 2).contiguous().transpose(1, 2) if k in "u delta B C z" else v
        for k, v in kw.items()
    }
    ref = selective_scan_reference(**kw)
    assert not strided["delta"].is_contiguous()
    assert (selective_scan_chunked(**strided, chunk_size=16) - ref).abs().max() < 1e-5


@pytest.mark.parametrize("block", [1, 64, 1 << 22])
@pytest.mark.parametrize(
    "drop", [(), ("D",), ("z",), ("delta_bias",), ("delta_bias", "delta_softplus")]
)
def test_scan_backward_matches_autograd_of_the_recurrence(
    block: int, drop: tuple[str, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hand-written backward (states recomputed per block, adjoint scanned backwards) gives
    autograd's gradients of the step-by-step recurrence for every input, in fp64 to rounding, with
    one step, a few steps or the whole sequence per block, and with optional inputs left out."""
    import importlib

    ss = importlib.import_module("dnaseq_cli.models.caduceus.selective_scan")
    monkeypatch.setattr(ss, "GRAD_BLOCK_ELEMENTS", block)
    base = _scan_inputs(2, 4, 8, 45, seed=5)
    for name in drop:
        base[name] = False if name == "delta_softplus" else None
    if "delta_softplus" in drop:
        base["delta"] = base["delta"].abs() * 0.1  # a positive step size without softplus

    def grads(fn, **extra):
        kw = {
            k: v.double().requires_grad_(True) if torch.is_tensor(v) else v for k, v in base.items()
        }
        out = fn(**kw, **extra)
        (out.square().sum() + out.sum()).backward()
        return out.detach(), {k: v.grad for k, v in kw.items() if torch.is_tensor(v)}

    ref, ref_g = grads(selective_scan_reference)
    out, out_g = grads(selective_scan_chunked, chunk_size=16)
    assert (out - ref).abs().max() < 1e-12
    assert set(out_g) == set(ref_g)
    for name, rg in ref_g.items():
        assert out_g[name] is not None, name
        assert (out_g[name] - rg).abs().max() < 1e-10 * (1 + rg.abs().max()), name


def test_scan_backward_in_fp32_matches_reference() -> None:
    """The training path in fp32 (as the model runs it): gradients within fp32 rounding."""
    base = _scan_inputs(1, 4, 8, 300, seed=6)

    def grads(fn, **extra):
        kw = {
            k: v.clone().requires_grad_(True) if torch.is_tensor(v) else v for k, v in base.items()
        }
        fn(**kw, **extra).square().sum().backward()
        return [kw[k].grad for k in ("u", "delta", "A", "B", "C", "D", "z", "delta_bias")]

    for g, rg in zip(
        grads(selective_scan_chunked, chunk_size=32), grads(selective_scan_reference), strict=True
    ):
        assert (g - rg).abs().max() < 1e-4 * (1 + rg.abs().max())


def test_time_major_causal_conv_equals_conv1d() -> None:
    torch.manual_seed(0)
    m = Mamba(16).eval()
    x = torch.randn(2, 9, m.d_inner)
    expected = F.silu(m.conv1d(x.transpose(1, 2))[..., :9]).transpose(1, 2)
    assert (m.causal_conv(x) - expected).abs().max() < 1e-6
    short = x[:, :2]  # shorter than the kernel
    expected = F.silu(m.conv1d(short.transpose(1, 2))[..., :2]).transpose(1, 2)
    assert (m.causal_conv(short) - expected).abs().max() < 1e-6


def test_mamba_module_chunked_equals_reference_scan() -> None:
    torch.manual_seed(0)
    m = Mamba(16).eval()
    x = torch.randn(2, 70, 16)
    y = m(x)
    m.scan_impl = "reference"
    assert (y - m(x)).abs().max() < 1e-5


def test_mamba_scan_is_causal() -> None:
    torch.manual_seed(0)
    m = Mamba(16).eval()
    x = torch.randn(1, 40, 16)
    x2 = x.clone()
    x2[:, 30:] = torch.randn(1, 10, 16)
    assert torch.allclose(m(x)[:, :30], m(x2)[:, :30], atol=1e-6)


# ---------------------------------------------------------------- BiMamba / RC equivariance


def test_bimamba_weight_tie_and_bidirectionality() -> None:
    m = _model()
    mixer = m.backbone.layers[0].mixer
    assert mixer.mamba_rev.in_proj.weight is mixer.mamba_fwd.in_proj.weight
    assert mixer.mamba_rev.out_proj.weight is mixer.mamba_fwd.out_proj.weight
    assert mixer.mamba_rev.x_proj.weight is not mixer.mamba_fwd.x_proj.weight
    ids = _ids(1, 40)
    ids2 = ids.clone()
    ids2[0, 35] = A if ids[0, 35] != A else C
    h, h2 = m(ids), m(ids2)
    assert (h[:, :10] - h2[:, :10]).abs().max() > 1e-6  # early positions see later tokens


@pytest.mark.parametrize("fused", [True, False])
def test_ps_logits_are_rc_equivariant(fused: bool) -> None:
    m = _model(rcps=True, fused_add_norm=fused)
    ids = _ids(2, 64)
    rc_ids, _ = m.reverse_complement(ids)
    h, h_rc = m(ids), m(rc_ids)
    assert (h_rc - h.flip(-2, -1)).abs().max() < 1e-5
    logits, logits_rc = m.lm_logits(h), m.lm_logits(h_rc)
    assert (logits_rc - m.rc_logits(logits)).abs().max() < 1e-5


@pytest.mark.parametrize("rcps", [True, False])
def test_classifier_is_rc_invariant(rcps: bool) -> None:
    torch.manual_seed(0)
    clf = SequenceClassifier.create(_model(rcps=rcps), 3).eval()
    ids = _ids(3, 50)
    rc_ids, _ = clf.backbone.reverse_complement(ids)
    assert (clf(ids) - clf(rc_ids)).abs().max() < 1e-5


def test_ph_model_alone_is_not_equivariant_but_masked_lm_is() -> None:
    m = _model(rcps=False)
    ids = _ids(1, 40)
    rc_ids, _ = m.reverse_complement(ids)
    assert (m.rc_logits(m.lm_logits(m(rc_ids))) - m.lm_logits(m(ids))).abs().max() > 1e-4
    mlm = MaskedLM(m)
    lp, lp_rc = mlm(ids), mlm(rc_ids)
    assert torch.allclose(lp.exp().sum(-1), torch.ones(1, 40), atol=1e-5)
    assert (m.rc_logits(lp) - lp_rc).abs().max() < 1e-5


def _reference_fused_block(block: CaduceusBlock, hidden, residual):
    """Literal transcription of RCPSMambaBlock's fused_add_norm branch (kuleshov-group/caduceus),
    with the Triton kernel replaced by its definition (residual = x + residual; out = norm(residual))."""

    def fused(x, res):
        res = x if res is None else x + res
        return block.norm(res), res.float()

    d = hidden.shape[-1] // 2
    h_fwd, r_fwd = fused(hidden[..., d:], residual[..., d:] if residual is not None else None)
    h_rc, r_rc = fused(
        hidden[..., :d].flip(dims=[-2, -1]),
        residual[..., :d].flip(dims=[-2, -1]) if residual is not None else None,
    )
    hidden = torch.cat([h_fwd, h_rc.flip(dims=[-2, -1])], dim=-1)
    residual = torch.cat([r_fwd, r_rc.flip(dims=[-2, -1])], dim=-1)
    return block.mixer(hidden), residual


def test_fused_add_norm_matches_reference_half_swap() -> None:
    m = _model(rcps=True, fused_add_norm=True)
    block = m.backbone.layers[1]
    block.norm.weight.data.uniform_(0.5, 1.5)  # asymmetric weight: a wrong orientation would show
    hidden, residual = torch.randn(2, 30, 32), torch.randn(2, 30, 32)
    for res in (None, residual):
        out, out_res = block(hidden, res)
        ref, ref_res = _reference_fused_block(block, hidden, res)
        assert torch.allclose(out, ref, atol=1e-6) and torch.allclose(out_res, ref_res, atol=1e-6)


# ---------------------------------------------------------------- padding masks


@pytest.mark.parametrize("rcps", [True, False])
@pytest.mark.parametrize("side", ["right", "left"])
def test_padding_does_not_change_outputs(rcps: bool, side: str) -> None:
    clf = SequenceClassifier.create(_model(rcps=rcps), 2).eval()
    ids = _ids(1, 37)
    pads = torch.full((1, 11), PAD)
    padded = torch.cat([ids, pads] if side == "right" else [pads, ids], dim=1)
    mask = (padded != PAD).long()
    real = mask.bool()[0]
    h, h_pad = clf.backbone(ids), clf.backbone(padded, mask)
    assert (h[0] - h_pad[0, real]).abs().max() < 1e-5
    assert (clf(ids) - clf(padded, mask)).abs().max() < 1e-5
    # a batch mixing lengths gives each row its unpadded result
    batch = torch.cat([padded, torch.cat([ids, _ids(1, 11, seed=3)], 1)])
    bmask = torch.cat([mask, torch.ones_like(mask)])
    assert (clf(batch, bmask)[0] - clf(ids)[0]).abs().max() < 1e-5


def test_full_window_mask_takes_the_unmasked_path() -> None:
    """The trainer always sends a mask; when every token is real the mixers get none (the fused
    scan then projects dt itself), with the same result as the masked path."""
    clf = SequenceClassifier.create(_model(rcps=True), 2).eval()
    ids = _ids(2, 29)
    seen: list[object] = []
    mamba = next(m for m in clf.modules() if hasattr(m, "scan_impl"))
    hook = mamba.register_forward_pre_hook(lambda _m, args: seen.append(args[1]))
    full = clf(ids, torch.ones_like(ids, dtype=torch.bool))
    hook.remove()
    assert seen and all(mask is None for mask in seen)
    half = torch.ones_like(ids, dtype=torch.bool)
    half[1, 20:] = False
    assert (full[0] - clf(ids, half)[0]).abs().max() < 1e-5  # row 0 is full in both batches


# ---------------------------------------------------------------- registry and checkpoints


def test_registry_basics() -> None:
    assert "caduceus" in available()
    assert CaduceusModel.encoding == "char"
    with pytest.raises(KeyError):
        build("no-such-backbone")
    with pytest.raises(TypeError):

        @register("no-encoding")
        class Bad(nn.Module):
            pass


@pytest.mark.parametrize("rcps", [True, False])
def test_checkpoint_round_trip(tmp_path, rcps: bool) -> None:
    clf = SequenceClassifier.create(_model(rcps=rcps), 2).eval()
    ids = _ids(2, 33)
    save_checkpoint(clf, tmp_path / "clf")
    cfg = json.loads((tmp_path / "clf" / "config.json").read_text())
    assert cfg["backbone"] == "caduceus" and cfg["config"]["rcps"] is rcps
    back = load_checkpoint(tmp_path / "clf")
    assert isinstance(back, SequenceClassifier)
    assert torch.equal(back(ids), clf(ids))
    save_checkpoint(clf.backbone, tmp_path / "bb")
    bb = load_checkpoint(tmp_path / "bb")
    assert torch.equal(bb.lm_logits(bb(ids)), clf.backbone.lm_logits(clf.backbone(ids)))
    emb = bb.backbone.embeddings.word_embeddings
    head = bb.lm_head.lm_head if rcps else bb.lm_head
    assert head.weight is emb.weight  # ties survive the reload


def _hf_state(m: CaduceusModel, drop_lm_head: bool = True) -> dict[str, torch.Tensor]:
    """HF key names, written out explicitly from our modules (as a checkpoint on the Hub has them)."""
    cfg, state = m.config, {}
    emb = m.backbone.embeddings.word_embeddings
    pre = "caduceus.backbone."
    if cfg.rcps:
        state[pre + "embeddings.word_embeddings.embedding.weight"] = emb.weight
        state[pre + "embeddings.word_embeddings.complement_map"] = emb.complement_map
        state["lm_head.complement_map"] = m.lm_head.complement_map
        if not drop_lm_head:
            state["lm_head.lm_head.weight"] = m.lm_head.weight
    else:
        state[pre + "embeddings.word_embeddings.weight"] = emb.weight
        if not drop_lm_head:
            state["lm_head.weight"] = m.lm_head.weight
    mix = ".mixer.submodule." if cfg.rcps else ".mixer."
    for i, layer in enumerate(m.backbone.layers):
        bi = layer.mixer.submodule if cfg.rcps else layer.mixer
        for direction in ("mamba_fwd", "mamba_rev"):
            for k, v in getattr(bi, direction).state_dict().items():
                state[f"{pre}layers.{i}{mix}{direction}.{k}"] = v
        state[f"{pre}layers.{i}.norm.weight"] = layer.norm.weight  # fused_add_norm: plain norm
    state[pre + "norm_f.weight"] = m.backbone.norm_f.weight
    return {k: v.detach().clone().contiguous() for k, v in state.items()}


def _hf_config(rcps: bool) -> dict:
    cmap = {"0": 0, "1": 1, "2": 2, "3": 3, "4": 4, "5": 5, "6": 6, "7": 10, "8": 9, "9": 8,
            "10": 7, "11": 11}  # fmt: skip
    return {
        "_name_or_path": "kuleshov-group/caduceus-tiny", "architectures": ["CaduceusForMaskedLM"],
        "auto_map": {"AutoConfig": "configuration_caduceus.CaduceusConfig"},
        "model_type": "caduceus", "d_model": 16, "n_layer": 2, "vocab_size": 12,
        "ssm_cfg": {"d_state": 16, "d_conv": 4, "expand": 2, "dt_rank": "auto", "dt_min": 0.001,
                    "dt_max": 0.1, "dt_init": "random", "dt_scale": 1.0, "dt_init_floor": 1e-4,
                    "conv_bias": True, "bias": False, "use_fast_path": True},
        "rms_norm": True, "residual_in_fp32": False, "fused_add_norm": True,
        "pad_vocab_size_multiple": 8, "norm_epsilon": 1e-5,
        "initializer_cfg": {"initializer_range": 0.02, "rescale_prenorm_residual": True,
                            "n_residuals_per_layer": 1},
        "bidirectional": True, "bidirectional_strategy": "add", "bidirectional_weight_tie": True,
        "rcps": rcps, "complement_map": cmap, "num_labels": 2, "torch_dtype": "float32",
        "transformers_version": "4.38.1",
    }  # fmt: skip


@pytest.mark.parametrize("rcps", [True, False])
def test_hf_folder_loads_with_identical_outputs(tmp_path, rcps: bool) -> None:
    cfg = _hf_config(rcps)
    m = build("caduceus", **cfg).eval()  # extra HF keys are ignored, vocab padded 12 -> 16
    assert m.config.vocab_size == 16 and m.backbone.embeddings.word_embeddings.weight.shape[0] == 16
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    save_file(_hf_state(m), str(tmp_path / "model.safetensors"))
    loaded = load_hf_checkpoint(tmp_path)
    ids = _ids(2, 45)
    assert torch.equal(loaded.lm_logits(loaded(ids)), m.lm_logits(m(ids)))
    head = loaded.lm_head.lm_head if rcps else loaded.lm_head
    assert head.weight is loaded.backbone.embeddings.word_embeddings.weight  # re-tied
    assert load_checkpoint(tmp_path).config.rcps is rcps  # registry recognises HF folders too


def test_hf_pytorch_bin_and_save_round_trip(tmp_path) -> None:
    m = build("caduceus", **_hf_config(True)).eval()
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "config.json").write_text(json.dumps(_hf_config(True)))
    torch.save(_hf_state(m, drop_lm_head=False), tmp_path / "bin" / "pytorch_model.bin")
    loaded = load_hf_checkpoint(tmp_path / "bin")
    ids = _ids(1, 30)
    assert torch.equal(loaded(ids), m(ids))
    # our writer produces the same key set as the Hub layout and reloads identically
    save_hf_checkpoint(loaded, tmp_path / "out")
    keys = set(load_file(str(tmp_path / "out" / "model.safetensors")))
    assert keys == set(_hf_state(m))
    cfg = json.loads((tmp_path / "out" / "config.json").read_text())
    assert cfg["complement_map"]["7"] == 10 and cfg["model_type"] == "caduceus"
    again = load_hf_checkpoint(tmp_path / "out")
    assert torch.equal(again.lm_logits(again(ids)), m.lm_logits(m(ids)))


def test_hf_classifier_round_trip(tmp_path) -> None:
    clf = SequenceClassifier.create(_model(rcps=True), 3, bias=False).eval()
    save_hf_checkpoint(clf, tmp_path)
    assert "score.weight" in load_file(str(tmp_path / "model.safetensors"))
    back = load_hf_checkpoint(tmp_path)
    ids = _ids(2, 20)
    assert isinstance(back, SequenceClassifier) and torch.equal(back(ids), clf(ids))


def test_non_fused_rcps_uses_submodule_norm_keys() -> None:
    m = _model(rcps=True, fused_add_norm=False)
    keys = set(m.state_dict())
    assert "backbone.layers.0.norm.submodule.weight" in keys
    assert "backbone.norm_f.submodule.weight" in keys
    assert isinstance(m.backbone.norm_f.submodule, RMSNorm)
    assert CaduceusConfig(complement_map={"7": 10}).complement_map[7] == 10


# ---------------------------------------------------------------- learning


def test_tiny_model_learns_motif() -> None:
    """Label = sequence contains GAATTC (an RC palindrome); tiny PS model, 100 Adam steps."""
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    model = build("caduceus", d_model=16, n_layer=1, rcps=True, ssm_cfg={"d_state": 4})
    clf = SequenceClassifier.create(model, 2)
    motif, length = torch.tensor([G, A, A, T, T, C]), 24

    def batch(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.randint(A, T + 1, (n, length), generator=g)
        plant = torch.randint(0, 2, (n,), generator=g).bool()
        pos = torch.randint(0, length - 6, (n,), generator=g)[plant]
        x[plant.nonzero()[:, :1], pos[:, None] + torch.arange(6)] = motif
        return x, (x.unfold(1, 6, 1) == motif).all(-1).any(-1).long()

    opt = torch.optim.AdamW(clf.parameters(), lr=2e-2)
    clf.train()
    for _ in range(100):
        x, y = batch(32)
        loss = F.cross_entropy(clf(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    clf.eval()
    x, y = batch(512)
    with torch.no_grad():
        acc = (clf(x).argmax(-1) == y).float().mean().item()
    assert acc > 0.9
