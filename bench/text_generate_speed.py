"""Text generation speed: the plugin's generate job beside calling `model.generate` directly, same model and settings.

The model is the bundled one (plugins/text/default).

Both sample `--sequences` continuations of one prompt, one sequence at a time (batch 1, as the job
does so that each sequence has its own seed and streams), with the same sampling settings and
max_new_tokens within the model's context, in alternating rounds. The job's figure is its own
tokens_per_s (new tokens over the time spent in generation, which includes streaming every token
to the context, stop-string checks and cancel checks); its end-to-end time (loading the model,
storing results) is printed beside it. A batched `model.generate` (all sequences in one call) is
printed for reference: faster, but it cannot give each sequence its seed or stream it.

    nice -n 10 python bench/text_generate_speed.py --rounds 3      # the bundled model
    nice -n 10 python bench/text_generate_speed.py --against-store /tmp/text-1   # and a candidate beside it

With `--against-store DIR` (a store folder a training command wrote: DIR/aigc.db, DIR/art), each round
also runs the generate job with that store's newest text model, and the ratio of the two jobs' medians is
printed: how a candidate for the bundled default generates beside the bundled model.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from aigc.core.testing import run_job, temporary_settings
from aigc.plugins import text as text_plugin
from aigc.plugins.text import networks

sys.path.insert(0, str(Path(__file__).parent))
from quality_stores import newest_model, store_settings  # noqa: E402


def direct(model: object, tokenizer: object, prompt: str, sequences: int, new_tokens: int, batched: bool) -> float:
    """`model.generate` called by hand; returns new tokens per second."""
    ids = tokenizer(prompt, add_special_tokens=False, return_tensors="pt").input_ids
    settings = dict(
        max_new_tokens=new_tokens, do_sample=True, temperature=0.8, top_k=0, pad_token_id=tokenizer.pad_token_id
    )
    produced = 0
    start = time.perf_counter()
    if batched:
        torch.manual_seed(0)
        out = model.generate(ids, attention_mask=torch.ones_like(ids), num_return_sequences=sequences, **settings)
        produced = sequences * (out.shape[1] - ids.shape[1])
    else:
        for k in range(sequences):
            torch.manual_seed(k)
            out = model.generate(ids, attention_mask=torch.ones_like(ids), **settings)
            produced += out.shape[1] - ids.shape[1]
    return produced / (time.perf_counter() - start)


def plugin_job(settings: object, model: str, prompt: str, sequences: int, new_tokens: int) -> tuple[float, float, int]:
    """(job's tokens/s in generation, end-to-end tokens/s, new tokens) of one `text generate` job."""
    params = {
        "model": model,
        "prompt": prompt,
        "max_new_tokens": new_tokens,
        "num_return_sequences": sequences,
        "temperature": 0.8,
        "seed": 0,
        "device": "cpu",
    }
    start = time.perf_counter()
    outcome = run_job("text", "generate", params, settings=settings)
    seconds = time.perf_counter() - start
    if outcome.job.status != "succeeded":
        raise SystemExit(f"generate job {outcome.job.status}: {outcome.job.error}")
    produced = outcome.summary["new_tokens"]
    return outcome.summary["tokens_per_s"], produced / seconds, produced


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompt", default="ROMEO:")
    parser.add_argument("--sequences", type=int, default=4)
    parser.add_argument("--new-tokens", type=int, default=None, help="default: what fits in the context")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--against-store", type=Path, default=None, help="also time this store's newest text model")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    folder = Path(text_plugin.__file__).parent / "default"
    model, tokenizer = networks.load_trained(folder, "cpu")
    prompt_tokens = len(tokenizer(args.prompt, add_special_tokens=False).input_ids)
    new_tokens = args.new_tokens or (networks.context_of(model) or 256) - prompt_tokens

    with tempfile.TemporaryDirectory(prefix="text-bench-") as tmp:
        settings = temporary_settings(Path(tmp))
        model_id = "default"
        direct(model, tokenizer, args.prompt, 1, 8, batched=False)  # warm-up
        plugin_job(settings, model_id, args.prompt, 1, 8)
        candidate = None
        if args.against_store is not None:
            store = store_settings(args.against_store)
            candidate = (store, newest_model(store, "text"))
            plugin_job(*candidate, args.prompt, 1, 8)
        one, job, whole, batch, other = [], [], [], [], []
        for round_ in range(1, args.rounds + 1):
            one.append(direct(model, tokenizer, args.prompt, args.sequences, new_tokens, batched=False))
            rate, end_to_end, produced = plugin_job(settings, model_id, args.prompt, args.sequences, new_tokens)
            job.append(rate)
            whole.append(end_to_end)
            batch.append(direct(model, tokenizer, args.prompt, args.sequences, new_tokens, batched=True))
            if candidate is not None:
                other.append(plugin_job(*candidate, args.prompt, args.sequences, new_tokens)[0])
            print(
                f"round {round_}: model.generate {one[-1]:7.1f} tok/s   generate job {job[-1]:7.1f} tok/s "
                f"({produced} tokens; end to end {whole[-1]:7.1f})   batched model.generate {batch[-1]:7.1f}"
                + (f"   candidate's job {other[-1]:7.1f}" if other else ""),
                flush=True,
            )
    d, j = statistics.median(one), statistics.median(job)
    print(
        f"median over {args.rounds} rounds: {args.sequences} sequences x {new_tokens} new tokens, "
        f"{networks.parameter_count(model) / 1e6:.2f}M params, {args.threads} thread(s):"
    )
    print(f"  model.generate, one sequence a call   {d:7.1f} tok/s")
    print(f"  text generate job                     {j:7.1f} tok/s   ratio {j / d:.3f}  (target >= 0.90)")
    print(f"  text generate job, end to end         {statistics.median(whole):7.1f} tok/s")
    print(f"  model.generate, all sequences at once {statistics.median(batch):7.1f} tok/s  (reference)")
    if other:
        c = statistics.median(other)
        print(f"  text generate job, candidate model    {c:7.1f} tok/s   ratio to the bundled {c / j:.3f}")


if __name__ == "__main__":
    main()
