"""`aigc serve`: a web gallery and dashboard over the job store, with a JSON API under /api.

Importing this package imports FastAPI; the `aigc` command imports it only when `serve` runs.
"""

from aigc.cli.serve.app import create_app

__all__ = ["create_app"]
