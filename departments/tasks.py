"""The departments' background work, found as every app's is (`run_huey` autodiscovers `tasks`
modules; the core's AppConfig imports them in every process). Departments have no periodic
chore; the job task that sends a message's copies by e-mail is defined beside its work, in
`services` (`send_department_message`), and importing it here registers it in the worker
whatever else the worker loads (`tests/test_job_task_renames.py`)."""

from . import services  # noqa: F401  (registers services.send_department_message)
