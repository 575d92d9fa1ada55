"""The core's background tasks, imported by the worker (`run_huey` autodiscovers `tasks`
modules): without this import the worker would not know them."""

from . import backups  # noqa: F401  (the nightly backup and the backup job)
