"""Static files from vendored packages, only those the portal serves.

xstatic-bootstrap ships 44 files (every build of Bootstrap, each with its source map); the
templates use two of them. Given the whole folder, `collectstatic` copied, hashed and
compressed (gzip and Brotli) all of them, which was most of its time. This finder offers only
the files named in `settings.VENDOR_STATIC_FILES`:

    VENDOR_STATIC_FILES = {"vendor/bootstrap": (xstatic_bootstrap.BASE_DIR, ["css/...", ...])}

A minified file names its source map in a `sourceMappingURL` comment and
ManifestStaticFilesStorage refuses a missing one, so each map is listed with its file.
"""

from __future__ import annotations

import os

from django.conf import settings
from django.contrib.staticfiles import finders
from django.core.checks import Error
from django.core.files.storage import FileSystemStorage


class VendorFileFinder(finders.BaseFinder):
    def __init__(self, *args, **kwargs) -> None:
        # public path ("vendor/bootstrap/css/bootstrap.min.css") -> (storage, name in it)
        self.files: dict[str, tuple[FileSystemStorage, str]] = {}
        for prefix, (root, names) in settings.VENDOR_STATIC_FILES.items():
            storage = FileSystemStorage(location=root)
            storage.prefix = prefix  # collectstatic copies `name` to `prefix/name`
            for name in names:
                self.files[f"{prefix}/{name}"] = (storage, name)
        super().__init__(*args, **kwargs)

    def check(self, **kwargs) -> list[Error]:
        return [
            Error(
                f"VENDOR_STATIC_FILES names {path}, which is not at {storage.path(name)}.",
                hint="Is the package installed, and is the name right for its version?",
                id="cdt_portal.E101",
            )
            for path, (storage, name) in self.files.items()
            if not storage.exists(name)
        ]

    def find(self, path: str, find_all: bool = False, **kwargs):
        find_all = self._check_deprecated_find_param(find_all=find_all, **kwargs)
        found = self.files.get(path)
        if found is None:
            return [] if find_all else None
        storage, name = found
        finders.searched_locations.append(storage.location)
        match = os.path.join(storage.location, name)
        return [match] if find_all else match

    def list(self, ignore_patterns):
        for storage, name in self.files.values():
            yield name, storage
