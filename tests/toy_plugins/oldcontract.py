"""A plugin written for a contract this aigc does not implement."""

from aigc.core.plugin import Modality, Plugin


class Old(Plugin):
    name = "old"
    modality = Modality.text
    contract = 0
