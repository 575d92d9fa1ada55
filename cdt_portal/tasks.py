"""The core's background tasks, imported by the worker (`run_huey` autodiscovers `tasks`
modules): without this import the worker would not know them."""

from huey.contrib.djhuey import on_startup

from . import backups  # noqa: F401  (the nightly backup and the backup job)
from .pdf import warm_up


@on_startup()
def warm_up_pdf_renderer() -> None:
    """Each worker process loads WeasyPrint, Pango and the fonts when it starts, not during
    the first document someone waits for (0.7 s of a 3 s sheet)."""
    warm_up()
