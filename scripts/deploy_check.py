#!/usr/bin/env python3
"""`make deploy-check`: docs/deploy.md's own commands, run as written on a throwaway machine,
then the portal they set up walked over HTTPS.

The guide is the test. Every `sh` block of the guide's numbered steps is run in order, and the
`ini` block of step 4 is written to the `.env` it names, with the environment a root login has
(ROOT_ENV in deploycheck/common.py): the check sets no setting of its own, so a step the guide
forgets is a step the check misses too.

Where it runs. As root (exit status 2 otherwise), in a private mount and process namespace
(`unshare --mount --pid --fork`), which vanishes with everything in it when the check ends:

- `/etc`, `/var/www`, `/var/lib/nginx` and `/var/log/nginx` are copy-on-write layers
  (overlayfs) over the host's, so `adduser` and `usermod` change only the layer's passwd and
  group files (a bind-mounted copy of /etc/passwd does not work: they replace the file by
  renaming, which a mount point refuses), nginx's configuration starts as the host's, and
  certbot's and systemd's folders start as the host's;
- `/srv` is an empty folder and `/run` an empty tmpfs (with the host's PostgreSQL socket
  folder bound back into it), so the server is fresh and nginx's pid file stays inside;
- the network is the host's: PostgreSQL and Redis are reached on 127.0.0.1, and the guide's
  own ports (80, 443, 8000) are used, so they must be free.

Stand-ins (SHIMS in deploycheck/guide.py) for what cannot act for real here are first on
PATH: each says what it does in its function's docstring. Substitutions (class Substitutions,
ibid.) are printed as they are made: database and role names get a suffix per run (the guide's
names would meet CI's own database), the Redis database number becomes one the check claims
empty, the `<…>` placeholders are filled in, and `createuser --pwprompt` and `createsuperuser`
are answered on a terminal.

After the guide's first server (steps 1-9): the guard (`loaddemo` must be refused: the
production settings come from `.env`), the demo under the local settings on the same database
(the one command the guide does not contain: the guard refuses production on purpose), the
walk, step 10's backup, a "new server" on the same machine for step 11 (step 2's createuser
and step 4's .env with new names, an empty MEDIA_ROOT), and step 12.

Everything started is stopped on exit (also on Ctrl-C or SIGTERM); the databases and roles are
dropped and the Redis database emptied. DEPLOY_CHECK_KEEP=1 keeps the logs (each step's output,
both services', nginx's). Exit status: 0 when every check passed, 1 with the reason.

The code is in deploycheck/ beside this file (its __init__ names the modules); this file starts
the check, and is what the stand-ins, the units and the namespace's process run again, with an
option (the end of this file).
"""

from __future__ import annotations

import sys
from pathlib import Path

# deploycheck/ is found beside this file, also when the tests load it by its path.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from deploycheck.common import ROOT_ENV, totp
from deploycheck.guide import (
    BACKUP_STEP,
    FIRST_SERVER,
    NEW_SERVER_AGAIN,
    PACKAGES_STOOD_IN,
    POSTGRES_PROGRAMS,
    RESTORE_STEP,
    RUN_AS_WRITTEN,
    SHIMS,
    SUBSTITUTED_SETTINGS,
    SUPERUSER,
    UPGRADE_STEP,
    Substitutions,
    extract_steps,
    programs,
)
from deploycheck.host import main
from deploycheck.inside import inside
from deploycheck.seccomp import (
    allow_system_calls,
    deny_write_execute,
    restrict_address_families,
    syscall_groups,
)
from deploycheck.standins import SHIM_FUNCTIONS
from deploycheck.systemctl import exec_unit, parse_unit

# What tests/deployment/ reads from this module (test_deploy_doc.py and test_server_config.py).
__all__ = [
    "BACKUP_STEP",
    "FIRST_SERVER",
    "NEW_SERVER_AGAIN",
    "PACKAGES_STOOD_IN",
    "POSTGRES_PROGRAMS",
    "RESTORE_STEP",
    "ROOT_ENV",
    "RUN_AS_WRITTEN",
    "SHIMS",
    "SHIM_FUNCTIONS",
    "SUBSTITUTED_SETTINGS",
    "SUPERUSER",
    "UPGRADE_STEP",
    "Substitutions",
    "allow_system_calls",
    "deny_write_execute",
    "extract_steps",
    "parse_unit",
    "programs",
    "restrict_address_families",
    "syscall_groups",
    "totp",
]


if __name__ == "__main__":
    if sys.argv[1:2] == ["--shim"]:
        sys.exit(SHIM_FUNCTIONS[sys.argv[2]](sys.argv[3:]))
    if sys.argv[1:2] == ["--exec-unit"]:
        exec_unit(sys.argv[2], sys.argv[3])
    if sys.argv[1:2] == ["--inside"]:
        sys.exit(inside(Path(sys.argv[2])))
    sys.exit(main())
