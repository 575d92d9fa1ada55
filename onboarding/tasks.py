"""The rollout has no periodic task (the weekly digest is the top layer's: `portal.tasks`).
This module is here for what it imports: the core's AppConfig and the worker (`run_huey`)
import every app's `tasks`, and through this one `services`, where the registration e-mail's
job task is defined, so every process knows that task when a job is queued again with it."""

from . import services  # noqa: F401  (registers the job task)
