"""The text plugin: a Hugging Face `transformers` causal language model that trains, fine-tunes, generates
and scores text.

From scratch it is a GPT-2 with a tokenizer trained on the corpus (characters, or byte-level BPE); with
`base` it fine-tunes any local (or cached) causal-LM folder. Models are saved with `save_pretrained`, so
`AutoModelForCausalLM.from_pretrained(folder)` loads them with no aigc code. Imports no torch or
transformers: the job methods import their modules (which do) when a job runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from aigc.core.plugin import JobParams, Modality, Plugin
from aigc.plugins.text.params import EvaluateParams, GenerateParams, TrainParams

if TYPE_CHECKING:
    from aigc.core.context import JobContext


class TextPlugin(Plugin):
    name = "text"
    modality = Modality.text
    description = "Causal language model on transformers (GPT-2 from scratch or fine-tune a base): write and score text"
    queue = "gpu"
    bundled_model = "default"

    TrainParams: ClassVar[type[JobParams]] = TrainParams
    GenerateParams: ClassVar[type[JobParams]] = GenerateParams
    EvaluateParams: ClassVar[type[JobParams]] = EvaluateParams

    def train(self, ctx: JobContext, params: JobParams) -> None:
        from aigc.plugins.text.training import train

        assert isinstance(params, TrainParams)
        train(ctx, params)

    def generate(self, ctx: JobContext, params: JobParams) -> None:
        from aigc.plugins.text.generation import generate

        assert isinstance(params, GenerateParams)
        generate(ctx, params)

    def evaluate(self, ctx: JobContext, params: JobParams) -> None:
        from aigc.plugins.text.evaluation import evaluate

        assert isinstance(params, EvaluateParams)
        evaluate(ctx, params)
