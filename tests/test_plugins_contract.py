"""Contract versions: a plugin written for another contract is listed as broken with the reason and is
never half-loaded: not shown, not submitted, and a job stored before an upgrade fails without running it.
(tests/test_registry.py covers the drop-in listing; these go through entry points and the runner.)"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

from conftest import cli, env_for, write_module

from aigc.core.plugin import CONTRACT_VERSION
from aigc.core.store import Store, queries
from aigc.core.testing import submit

NEXT = CONTRACT_VERSION + 1
REASON = f"written for plugin contract v{NEXT}; this aigc implements v{CONTRACT_VERSION}"

PLUGIN = """
from pathlib import Path

from pydantic import Field

from aigc.core.plugin import JobParams, Modality, Plugin

# Importing the module is harmless; only running a job leaves a mark.
MARK = Path({mark!r})


class Params(JobParams):
    n: int = Field(1, ge=1, le=10, description="how many")


class Versioned(Plugin):
    name = "{name}"
    modality = Modality.text
    description = "written for contract v{contract}"
    contract = {contract}
    queue = "cpu"
    bundled_model = "missing.safetensors"
    GenerateParams = Params

    def generate(self, ctx, params):
        MARK.write_text("generate ran")
        ctx.add_text("hello", seed=ctx.seed)
"""


def install(site: Path, name: str, contract: int, mark: Path) -> dict[str, str]:
    """The plugin as an installed distribution (package + .dist-info on PYTHONPATH), as pip lays it out."""
    package = site / f"pkg_{name}"
    package.mkdir(parents=True, exist_ok=True)
    # The upgrade test rewrites this module in place, with the same length, within a second.
    write_module(package / "__init__.py", PLUGIN.format(name=name, contract=contract, mark=str(mark)))
    dist = site / f"pkg_{name}-1.0.dist-info"
    dist.mkdir(exist_ok=True)
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: pkg-{name}\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[aigc.plugins]\n{name} = pkg_{name}:Versioned\n")
    return {"PYTHONPATH": str(site)}


def test_an_entry_point_plugin_for_another_contract_is_broken_everywhere_with_the_reason(sqlite_settings, tmp_path):
    mark = tmp_path / "ran"
    env = env_for(sqlite_settings, **install(tmp_path / "site", "future", NEXT, mark))

    listed = {p["name"]: p for p in json.loads(cli(sqlite_settings, "plugins", "--json", env=env).stdout)}
    assert listed["future"]["status"] == "broken"
    assert listed["future"]["error"] == REASON
    assert listed["future"]["package"] == "pkg-future" and listed["future"]["modality"] is None
    assert listed["toy"]["status"] == "ok"  # every other plugin still works

    for args in (["plugins", "show", "future"], ["submit", "generate", "--plugin", "future"]):
        refused = cli(sqlite_settings, *args, env=env)
        assert refused.returncode == 2, (args, refused.stderr)
        assert refused.stderr.splitlines() == [f"error: plugin 'future' is broken: {REASON}"]
    models = cli(sqlite_settings, "models", "--json", env=env)  # its bundled model is not offered either
    assert models.returncode == 0, models.stderr
    assert all(m["plugin"] != "future" for m in json.loads(models.stdout))
    assert not mark.exists()
    with Store(sqlite_settings).transaction() as session:
        assert queries.list_jobs(session, limit=10) == []


def test_a_job_stored_before_an_upgrade_fails_with_the_reason_without_running(sqlite_settings, tmp_path, monkeypatch):
    """The job is submitted (here) while the installed plugin speaks this contract; then the plugin is
    replaced by a version written for the next one, and a fresh process (a worker after the upgrade) runs it."""
    from aigc.core.registry import discover

    mark = tmp_path / "ran"
    env = env_for(sqlite_settings, **install(tmp_path / "site", "upgraded", CONTRACT_VERSION, mark))
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    discover.cache_clear()
    try:
        job_id = submit(sqlite_settings, "upgraded", "generate", {"n": 2})
    finally:
        discover.cache_clear()
        monkeypatch.delitem(sys.modules, "pkg_upgraded", raising=False)

    install(tmp_path / "site", "upgraded", NEXT, mark)
    ran = subprocess.run(
        [sys.executable, "-c", f"from aigc.core.runner import run_job; print(run_job({job_id}))"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.returncode == 0, ran.stderr
    with Store(sqlite_settings).transaction() as session:
        job = queries.get_job(session, job_id)
        results = list(queries.results_of(session, job_id))
    assert job.status == "failed"
    assert job.error == f"plugin 'upgraded' is broken: {REASON}"
    assert results == [] and not mark.exists()  # not a line of the plugin's job ran


def test_the_same_plugin_for_this_contract_is_listed_and_runs(sqlite_settings, tmp_path):
    """The control: only the contract number differs from the broken plugins above."""
    mark = tmp_path / "ran"
    env = env_for(sqlite_settings, **install(tmp_path / "site", "current", CONTRACT_VERSION, mark))
    done = cli(sqlite_settings, "submit", "generate", "--plugin", "current", env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "hello"
    assert mark.read_text() == "generate ran"


def test_submit_helper_refuses_a_plugin_for_another_contract(sqlite_settings, tmp_path):
    """The testing helper a plugin author uses says the same, in-process."""
    from aigc.core.errors import BrokenPlugin
    from aigc.core.registry import discover

    future = tmp_path / "plugins"
    future.mkdir()
    write_module(
        future / "future_dropin.py", PLUGIN.format(name="future_dropin", contract=NEXT, mark=str(tmp_path / "ran"))
    )
    settings = replace(sqlite_settings, plugin_path=(future,))
    discover.cache_clear()
    try:
        try:
            submit(settings, "future_dropin", "generate", {})
        except BrokenPlugin as exc:
            assert str(exc) == f"plugin 'future_dropin' is broken: {REASON}"
        else:
            raise AssertionError("submit accepted a plugin written for another contract")
    finally:
        discover.cache_clear()
    assert not (tmp_path / "ran").exists()


def test_job_names_a_function_that_is_imported_only_when_the_job_runs(tmp_path, monkeypatch):
    """`train = job("module:function")`: the plugin's module imports nothing heavy; the job's module is
    imported at the first call, and the params must be the job's model. Methods (the older style) still work."""
    from aigc.core.plugin_api import JobParams, Modality, ModelParams, Plugin, job

    class Own(JobParams):
        n: int = 1

    (tmp_path / "lazy_jobs.py").write_text("CALLS = []\n\ndef train(ctx, params):\n    CALLS.append((ctx, params))\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "lazy_jobs", raising=False)

    class Lazy(Plugin):
        name = "lazy"
        modality = Modality.image
        TrainParams = Own
        train = job("lazy_jobs:train")

        def generate(self, ctx, params):  # a method, as plugins written before job() have them
            self.generated = params

    assert "lazy_jobs" not in sys.modules and repr(Lazy.train) == "job('lazy_jobs:train')"
    plugin = Lazy()
    plugin.train("ctx", Own(n=2))
    assert sys.modules["lazy_jobs"].CALLS == [("ctx", Own(n=2))]
    try:
        plugin.train("ctx", JobParams())
    except TypeError as exc:
        assert str(exc) == "lazy train takes Own, not JobParams"
    else:
        raise AssertionError("job() ran with params of another model")
    plugin.generate("ctx", ModelParams())
    assert plugin.generated == ModelParams()


def test_job_refuses_a_malformed_target_or_a_name_that_is_no_job():
    from aigc.core.plugin_api import Modality, Plugin, job

    for target in ("lazy_jobs", "lazy_jobs:", ":train", "lazy_jobs:not a name"):
        try:
            job(target)
        except ValueError as exc:
            assert str(exc) == f"job {target!r} is not of the form 'package.module:function'"
        else:
            raise AssertionError(f"job({target!r}) was accepted")
    try:

        class Misnamed(Plugin):
            name = "misnamed"
            modality = Modality.image
            fit = job("lazy_jobs:train")
    except (TypeError, RuntimeError) as exc:  # Python < 3.12 wraps errors of __set_name__ in a RuntimeError
        assert "a job is named train, generate or evaluate" in str(exc.__cause__ or exc)
    else:
        raise AssertionError("job() was accepted under a name that is no job")


def test_the_plugin_api_exports_what_it_lists_and_imports_nothing_heavy():
    script = (
        "import sys, aigc.core.plugin_api as api\n"
        "print(sorted(m for m in ('torch', 'transformers', 'numpy', 'PIL', 'sqlalchemy') if m in sys.modules))\n"
        "missing = [name for name in api.__all__ if getattr(api, name, None) is None]\n"
        "print(missing, sorted(set(api.__all__) - set(dir(api))))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["[]", "[] []"]


def test_built_in_plugins_and_the_example_import_aigc_core_only_through_the_plugin_api():
    root = Path(__file__).resolve().parent.parent
    imports = {
        f"{path.relative_to(root)}: {line.strip()}"
        for folder in ("plugins", "examples")
        for path in (root / folder).rglob("*.py")
        for line in path.read_text().splitlines()
        if line.strip().startswith(("from aigc.core", "import aigc.core"))
    }
    assert imports and all(line.split(": ", 1)[1].startswith("from aigc.core.plugin_api import") for line in imports), [
        line for line in imports if "plugin_api" not in line
    ]
