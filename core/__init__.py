"""The aigc core: plugin contract, registry, job store and runner."""
