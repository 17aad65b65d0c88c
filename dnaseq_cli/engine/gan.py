"""A small WGAN-GP for one-hot DNA (``dnaseq train --augment gan``).

Generator: latent vector -> linear -> two (upsample x2, conv, ReLU) blocks -> conv to 4 channels ->
softmax over A/C/G/T, so its output is a soft one-hot ``[B, 4, L]`` the critic can differentiate
through; samples take the argmax. Critic: strided convolutions, LeakyReLU, mean over positions,
linear score; no normalisation layers, since the gradient penalty (Gulrajani et al. 2017) is taken
per sample. Trained for a fixed number of generator steps (bounded cost), ``N_CRITIC`` critic steps
each, Adam (lr 1e-4, betas 0.5/0.9) as in the WGAN-GP paper. Everything is seeded and runs inside
``torch.random.fork_rng``, so the caller's random state (and thus its training run) is untouched.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor, nn

N_CRITIC = 5
GP_WEIGHT = 10.0
LATENT = 64


class SequenceGenerator(nn.Module):
    def __init__(self, length: int, latent: int = LATENT, channels: int = 64) -> None:
        super().__init__()
        self.length = length
        self.latent = latent
        self.start = max(math.ceil(length / 4), 1)
        self.project = nn.Linear(latent, channels * self.start)
        self.body = nn.Sequential(
            nn.ReLU(),
            nn.Upsample(scale_factor=2),
            nn.Conv1d(channels, channels, 5, padding=2),
            nn.ReLU(),
            nn.Upsample(scale_factor=2),
            nn.Conv1d(channels, channels, 5, padding=2),
            nn.ReLU(),
            nn.Conv1d(channels, 4, 5, padding=2),
        )

    def forward(self, z: Tensor) -> Tensor:
        x = self.project(z).view(len(z), -1, self.start)
        return torch.softmax(self.body(x)[..., : self.length], dim=1)


class Critic(nn.Module):
    def __init__(self, channels: int = 64) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv1d(4, channels, 5, padding=2),
            nn.LeakyReLU(0.2),
            nn.Conv1d(channels, channels, 5, stride=2, padding=2),
            nn.LeakyReLU(0.2),
            nn.Conv1d(channels, channels, 5, stride=2, padding=2),
            nn.LeakyReLU(0.2),
        )
        self.score = nn.Linear(channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.score(self.body(x).mean(-1)).squeeze(-1)


def gradient_penalty(
    critic: nn.Module, real: Tensor, fake: Tensor, generator: torch.Generator
) -> Tensor:
    """``(||grad critic(x_hat)|| - 1)^2`` at random points between real and generated samples."""
    alpha = torch.rand(len(real), 1, 1, generator=generator).to(real.device)
    mixed = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(mixed).sum(), mixed, create_graph=True)
    return ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()


def train_gan(
    real: Tensor,
    *,
    steps: int,
    seed: int,
    device: torch.device | str = "cpu",
    batch_size: int = 64,
    channels: int = 64,
) -> tuple[SequenceGenerator, list[float]]:
    """Fit a generator to ``real [N, 4, L]`` one-hot rows; returns it and the critic loss per step."""
    if len(real) == 0:
        raise ValueError("no real sequences to train the GAN on")
    device = torch.device(device)
    history: list[float] = []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        gen = torch.Generator().manual_seed(seed + 1)
        generator = SequenceGenerator(real.shape[-1], channels=channels).to(device)
        critic = Critic(channels).to(device)
        g_opt = torch.optim.Adam(generator.parameters(), lr=1e-4, betas=(0.5, 0.9))
        c_opt = torch.optim.Adam(critic.parameters(), lr=1e-4, betas=(0.5, 0.9))
        real = real.to(device)
        size = min(batch_size, len(real))

        def noise() -> Tensor:
            return torch.randn(size, generator.latent, generator=gen).to(device)

        for _ in range(steps):
            for _ in range(N_CRITIC):
                batch = real[torch.randint(len(real), (size,), generator=gen).to(device)]
                with torch.no_grad():
                    fake = generator(noise())
                c_loss = critic(fake).mean() - critic(batch).mean()
                c_loss = c_loss + GP_WEIGHT * gradient_penalty(critic, batch, fake, gen)
                c_opt.zero_grad(set_to_none=True)
                c_loss.backward()
                c_opt.step()
            g_loss = -critic(generator(noise())).mean()
            g_opt.zero_grad(set_to_none=True)
            g_loss.backward()
            g_opt.step()
            history.append(float(c_loss.detach()))
    return generator.eval(), history


@torch.no_grad()
def sample_gan(
    generator: SequenceGenerator, n: int, *, seed: int, device: torch.device | str = "cpu"
) -> np.ndarray:
    """``n`` sequences as base codes ``[n, L]`` (0..3 = A, C, G, T): argmax of the soft one-hot."""
    if n <= 0:
        return np.zeros((0, generator.length), dtype=np.int64)
    gen = torch.Generator().manual_seed(seed + 2)
    out = []
    for start in range(0, n, 256):
        z = torch.randn(min(256, n - start), generator.latent, generator=gen).to(device)
        out.append(generator(z).argmax(1).cpu())
    return torch.cat(out).numpy().astype(np.int64)
