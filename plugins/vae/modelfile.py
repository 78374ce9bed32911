"""A VAE from a model id: resolved through the context, verified, built from its own weight shapes."""

from __future__ import annotations

from aigc.core.artifacts import load_tensors
from aigc.core.context import JobContext, LoadedModel
from aigc.core.errors import UsageError
from aigc.plugins.vae.networks import VAE, VaeConfig


def load_vae(ctx: JobContext, model_id: str | None) -> tuple[VAE, LoadedModel]:
    """The model in eval mode on the job's device, with what the store knows about it."""
    loaded = ctx.load_model(model_id)
    if loaded.format != "safetensors":
        raise UsageError(f"model {loaded.id} is a {loaded.format} folder; a vae model is one safetensors file")
    state, _ = load_tensors(loaded.path)
    try:
        model = VAE(VaeConfig.from_state_dict(state))
        model.load_state_dict(state)
    except (KeyError, RuntimeError, ValueError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UsageError(f"model {loaded.id} does not hold vae weights ({first_line})") from None
    return model.to(ctx.device).eval(), loaded
