"""Celery worker: the app, the run_job task and the process supervisor."""
