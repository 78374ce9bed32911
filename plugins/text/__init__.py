"""The text plugin: a Hugging Face `transformers` causal language model that trains, fine-tunes, generates
and scores text.

From scratch it is a GPT-2 with a tokenizer trained on the corpus (characters, or byte-level BPE); with
`base` it fine-tunes any local (or cached) causal-LM folder. Models are saved with `save_pretrained`, so
`AutoModelForCausalLM.from_pretrained(folder)` loads them with no aigc code. Imports no torch or
transformers: each job's module (which does) is imported when the job runs.
"""

from __future__ import annotations

from collections.abc import Callable

from aigc.core.plugin_api import JobKind, JobParams, LoadedModel, Modality, Plugin, job
from aigc.plugins.text.params import EvaluateParams, GenerateParams, TrainParams


class TextPlugin(Plugin):
    name = "text"
    modality = Modality.text
    description = "Causal language model on transformers (GPT-2 from scratch or fine-tune a base): write and score text"
    queue = "gpu"
    bundled_model = "default"

    TrainParams = TrainParams
    GenerateParams = GenerateParams
    EvaluateParams = EvaluateParams

    train = job("aigc.plugins.text.training:train")
    generate = job("aigc.plugins.text.generation:generate")
    evaluate = job("aigc.plugins.text.evaluation:evaluate")

    def check(self, kind: JobKind, params: JobParams, load_model: Callable[[], LoadedModel]) -> None:
        from aigc.plugins.text.checks import check

        check(params, load_model)
