"""`aigc doctor`: checks of an installation, each one line with ok / warn / fail and what to do.

Nothing here imports torch or transformers unless asked to try CUDA (`cuda=True`), and nothing
changes the set-up it looks at: no database is created or migrated, no job is queued.
"""

from __future__ import annotations

from aigc.core.doctor.checks import Check, Level

__all__ = ["Check", "Level", "run"]


def run(cuda: bool = False) -> list[Check]:
    """Every check, in the order a newcomer would fix them: software, settings, storage, services."""
    from aigc.core.config import Settings
    from aigc.core.doctor import services, software, storage
    from aigc.core.errors import InvalidSetting

    checks = software.versions(cuda)
    try:
        settings = Settings.from_env()
    except InvalidSetting as exc:
        fix = "correct or unset it (`aigc config` lists every variable)"
        return [*checks, Check("settings", "fail", str(exc), fix), *software.gpus(cuda, None)]
    checks.append(Check("settings", "ok", "every AIGC_* variable is valid (`aigc config` shows them)"))
    store, store_ready = storage.store(settings)
    checks += [store, storage.artifacts(settings)]
    checks += services.broker(settings, store_ready)
    checks += software.gpus(cuda, settings)
    checks += software.plugins(settings)
    checks += services.server()
    return checks
