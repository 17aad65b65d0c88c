"""BiMamba: a forward and a reverse-direction Mamba sharing their in/out projections."""

from __future__ import annotations

from torch import Tensor, nn

from .mamba import Mamba


class BiMambaWrapper(nn.Module):
    """Runs Mamba left-to-right and (on the flipped sequence) right-to-left, combined by add/multiply.

    Tying in_proj/out_proj (`bidirectional_weight_tie`) keeps the parameter count close to one Mamba:
    most weights live in those projections, while the direction-specific scan parameters stay separate.
    """

    def __init__(
        self,
        d_model: int,
        bidirectional: bool = True,
        bidirectional_strategy: str | None = "add",
        bidirectional_weight_tie: bool = True,
        **mamba_kwargs: object,
    ) -> None:
        super().__init__()
        strategy = bidirectional_strategy or "add"
        if bidirectional and strategy not in ("add", "ew_multiply"):
            raise ValueError(f"unknown bidirectional_strategy {strategy!r}")
        self.bidirectional, self.strategy = bidirectional, strategy
        self.mamba_fwd = Mamba(d_model, **mamba_kwargs)  # type: ignore[arg-type]
        self.mamba_rev = Mamba(d_model, **mamba_kwargs) if bidirectional else None  # type: ignore[arg-type]
        if self.mamba_rev is not None and bidirectional_weight_tie:
            for name in ("in_proj", "out_proj"):
                fwd, rev = getattr(self.mamba_fwd, name), getattr(self.mamba_rev, name)
                rev.weight = fwd.weight
                rev.bias = fwd.bias

    def forward(self, hidden_states: Tensor, mask: Tensor | None = None) -> Tensor:
        """(batch, L, d) -> (batch, L, d); `mask` (batch, L) marks real tokens with 1."""
        if self.mamba_rev is None:
            return self.mamba_fwd(hidden_states, mask)
        xz = None
        if self.mamba_rev.in_proj.weight is self.mamba_fwd.in_proj.weight:
            xz = self.mamba_fwd.in_proj(hidden_states)  # tied and position-wise: project once
        out = self.mamba_fwd(hidden_states, mask, xz)
        out_rev = self.mamba_rev(hidden_states, mask, xz, reverse=True)  # right to left
        return out + out_rev if self.strategy == "add" else out * out_rev
