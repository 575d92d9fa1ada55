"""Tell, in plain words, which system packages WeasyPrint is missing (run by `make`)."""

import sys

PACKAGES = "libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core"

try:
    import weasyprint  # noqa: F401
except OSError as exc:
    sys.stderr.write(
        "\nWeasyPrint cannot load Pango, so PDFs cannot be made:\n"
        f"  {exc}\n\n"
        "Install the system libraries it needs, then run make again:\n"
        f"  sudo apt-get install {PACKAGES}\n\n"
    )
    sys.exit(1)
