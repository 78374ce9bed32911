"""A webhook receiver down for 60 s still gets every notice once it is back, with the default backoff.

Runs 20 toy jobs in-process against a fresh SQLite store, each with `--notify` pointing at a local
HTTP receiver that starts listening only `--outage` seconds later; the default backoff (5 s, doubling,
capped at 300 s) applies. Reports when each notice arrived after the receiver came back, and checks
every notice arrived exactly once with a valid signature.

    python bench/webhook_outage.py [--outage 60] [--jobs 20]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

SECRET = "bench-secret-0123456789"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outage", type=float, default=60.0)
    parser.add_argument("--jobs", type=int, default=20)
    args = parser.parse_args()
    scratch = tempfile.mkdtemp()
    os.environ.update(AIGC_HOME=scratch, AIGC_WEBHOOK_SECRET=SECRET)
    os.environ["AIGC_PLUGIN_PATH"] = str(Path(__file__).resolve().parent.parent / "tests" / "toy_plugins")
    from webhook_receiver import Receiver, free_port

    from aigc.core.config import Settings
    from aigc.core.runner import run_job
    from aigc.core.testing import submit
    from aigc.core.webhooks import verify

    settings = Settings.from_env()
    receiver = Receiver(free_port())
    ids = [submit(settings, "toy", "generate", {"n": 1}, notify_url=receiver.url) for _ in range(args.jobs)]
    started = time.monotonic()
    for job_id in ids:
        run_job(job_id, settings=settings)
    print(f"{args.jobs} jobs ended in {time.monotonic() - started:.2f} s with the receiver down")
    time.sleep(max(0.0, args.outage - (time.monotonic() - started)))
    receiver.start()
    back = time.monotonic()
    print(f"receiver listening after {back - started:.0f} s")
    while len(receiver.received) < args.jobs and time.monotonic() - back < 600:
        time.sleep(0.1)
    last = time.monotonic() - back
    time.sleep(6)  # a duplicate would come within a backoff step
    receiver.stop()
    got = sorted(json.loads(body)["id"] for _, body in receiver.received)
    signed = all(verify(SECRET, h["x-aigc-timestamp"], b, h["x-aigc-signature"]) for h, b in receiver.received)
    print(f"received {len(got)} notices ({len(set(got))} jobs) of {args.jobs}; all signatures valid: {signed}")
    print(f"last notice arrived {last:.1f} s after the receiver came back")
    assert got == sorted(ids) and signed


if __name__ == "__main__":
    main()
