"""`make deploy-check`'s code, run by scripts/deploy_check.py (whose docstring says what the
check does), standard library only:

- common.py: the constants, CheckFailed, say and expect, small helpers;
- guide.py: docs/deploy.md's steps, the programs they run, Substitutions;
- host.py: PostgreSQL, Redis and the clean-up on the host, and main(), which starts the
  namespace;
- inside.py: the namespace's process: the throwaway machine, the steps run on it, the checks;
- walk.py: the checks of the running portal (PortalWalk, a part of inside.py's Inside);
- browser.py: the walk's HTTPS browser;
- standins.py: the stand-ins first on PATH, and systemctl.py, the systemctl one, with
  seccomp.py's filters like systemd's.
"""
