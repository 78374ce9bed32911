"""Celery worker: the app, the task that runs a job, the dispatcher the core loads, and the process supervisor."""
