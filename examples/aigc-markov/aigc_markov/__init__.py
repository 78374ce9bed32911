"""markov: a character-level Markov-chain text generator, written as a third-party aigc plugin.

Importing this module is cheap (pydantic only); each job's function is imported from `jobs`, which
imports torch, when the job runs.
"""

from __future__ import annotations

from aigc.core.plugin_api import Modality, Plugin, job
from aigc_markov.params import EvaluateParams, GenerateParams, TrainParams

__version__ = "0.1.0"


class MarkovPlugin(Plugin):
    name = "markov"
    modality = Modality.text
    description = "Character-level Markov chain: build it from a text file, write text, score held-out text"
    contract = 1  # the aigc plugin contract this plugin was written for
    queue = "cpu"  # counting and sampling never need a GPU
    bundled_model = "default.safetensors"  # an order-3 chain of Tiny Shakespeare, inside this package

    TrainParams = TrainParams
    GenerateParams = GenerateParams
    EvaluateParams = EvaluateParams

    train = job("aigc_markov.jobs:train")
    generate = job("aigc_markov.jobs:generate")
    evaluate = job("aigc_markov.jobs:evaluate")
