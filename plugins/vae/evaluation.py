"""The VAE's evaluate job: mean negative ELBO and an importance-weighted NLL estimate, in nats per digit."""

from __future__ import annotations

import torch

from aigc.core.plugin_api import JobContext
from aigc.plugins.datasets.mnist import subset
from aigc.plugins.vae.data import load_digits, to_tensor
from aigc.plugins.vae.networks import importance_weighted_nll, load_model, loss_terms
from aigc.plugins.vae.params import EvaluateParams

SAMPLES_PER_CHUNK = 4000  # digits x importance samples decoded at once: bounds memory whatever k is


@torch.no_grad()
def evaluate(ctx: JobContext, params: EvaluateParams) -> None:
    model, loaded = load_model(ctx, params.model)
    data = load_digits(params.data)
    first, stop = scored_range(params, len(data))
    data = subset(data, first, stop)
    x = to_tensor(data.images, ctx.device)
    latent = model.config.latent_size

    elbo_rng = torch.Generator(device=ctx.device).manual_seed(ctx.seed)
    iw_rng = torch.Generator(device=ctx.device).manual_seed(ctx.seed + 1)
    chunk = max(1, SAMPLES_PER_CHUNK // params.k)
    bce_sum = kl_sum = nll_sum = 0.0
    for done in range(0, len(x), chunk):
        batch = x[done : done + chunk]
        noise = torch.randn(len(batch), latent, generator=elbo_rng, device=ctx.device)
        logits, mu, logvar = model(batch, noise)
        bce, kl = loss_terms(logits, batch, mu, logvar)
        bce_sum += bce.sum().item()
        kl_sum += kl.sum().item()
        nll_sum += importance_weighted_nll(model, batch, params.k, iw_rng).sum().item()
        ctx.progress(done + len(batch), len(x))

    n = len(x)
    ctx.set_summary(
        neg_elbo=(bce_sum + kl_sum) / n,
        bce=bce_sum / n,
        kl=kl_sum / n,
        iw_nll=nll_sum / n,
        iw_k=params.k,
        digits=n,
        split=params.split,
        first_index=first,
        data=str(data.source),
        model=loaded.id,
    )


def scored_range(params: EvaluateParams, size: int) -> tuple[int, int]:
    """(first, stop) of the digits a split scores: train's test or validation part, or all of them."""
    if params.split == "test" and params.test < size:
        return 0, params.test
    if params.split == "validation" and params.holdout < size:
        return size - params.holdout, size
    return 0, size
