"""markov: a character-level Markov-chain text generator, written as a third-party aigc plugin.

Importing this module is cheap (pydantic only); the job methods import `jobs`, which imports torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from aigc.core.plugin import JobParams, Modality, Plugin
from aigc_markov.params import EvaluateParams, GenerateParams, TrainParams

if TYPE_CHECKING:
    from aigc.core.context import JobContext

__version__ = "0.1.0"


class MarkovPlugin(Plugin):
    name = "markov"
    modality = Modality.text
    description = "Character-level Markov chain: build it from a text file, write text, score held-out text"
    contract = 1  # the aigc plugin contract this plugin was written for
    queue = "cpu"  # counting and sampling never need a GPU
    bundled_model = "default.safetensors"  # an order-3 chain of Tiny Shakespeare, inside this package

    TrainParams: ClassVar[type[JobParams]] = TrainParams
    GenerateParams: ClassVar[type[JobParams]] = GenerateParams
    EvaluateParams: ClassVar[type[JobParams]] = EvaluateParams

    def train(self, ctx: JobContext, params: JobParams) -> None:
        from aigc_markov.jobs import train

        assert isinstance(params, TrainParams)
        train(ctx, params)

    def generate(self, ctx: JobContext, params: JobParams) -> None:
        from aigc_markov.jobs import generate

        assert isinstance(params, GenerateParams)
        generate(ctx, params)

    def evaluate(self, ctx: JobContext, params: JobParams) -> None:
        from aigc_markov.jobs import evaluate

        assert isinstance(params, EvaluateParams)
        evaluate(ctx, params)
