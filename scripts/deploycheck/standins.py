"""Stand-ins (first on PATH inside the namespace: `deploy_check.py --shim NAME ARGS…`); the
systemctl one is in systemctl.py."""

from __future__ import annotations

import http.client
import json
import os
import pwd
import secrets
import subprocess
import sys
from pathlib import Path

from .common import SYSTEM_PATH, CheckFailed, expect, load_plan, run
from .guide import PACKAGES_STOOD_IN
from .systemctl import nginx_master, shim_systemctl, start_nginx


def shim_apt_get(args: list[str]) -> int:
    """`apt-get update`: nothing is fetched. `apt-get install [-y] PACKAGE…`: every package
    must be installed on this machine (dpkg), except those whose program is itself a stand-in
    (PACKAGES_STOOD_IN); the missing ones are named. As Debian's nginx package does when it is
    installed, nginx is started with Debian's default site (/var/www/html on port 80)."""
    if args == ["update"]:
        print("apt-get (stand-in): the package lists are not fetched")
        return 0
    if not args or args[0] != "install":
        print(f"apt-get (stand-in) knows `update` and `install`, not {args}", file=sys.stderr)
        return 100
    packages = [arg for arg in args[1:] if not arg.startswith("-")]

    def installed(package: str) -> bool:
        status = run(["dpkg-query", "-W", "-f=${Status}", package], check=False).stdout
        return status == "install ok installed"

    missing = [package for package in packages if not installed(package)]
    absent = [package for package in missing if package not in PACKAGES_STOOD_IN]
    if absent:
        print(
            f"apt-get (stand-in): not installed on this machine: {' '.join(absent)}\n"
            f"Install them (apt-get install {' '.join(absent)}) and run the check again.",
            file=sys.stderr,
        )
        return 100
    for package in missing:
        print(f"apt-get (stand-in): {package} is not installed here; the check stands in for it")
    if {"nginx", "nginx-light", "nginx-core", "nginx-full"} & set(packages):
        if nginx_master() is None:
            start_nginx()
            print("apt-get (stand-in): nginx started with Debian's default site")
    return 0


def shim_certbot(args: list[str]) -> int:
    """`certbot certonly --webroot -w DIR -d HOST [--deploy-hook CMD]`: puts a token under
    DIR/.well-known/acme-challenge/ and fetches it as Let's Encrypt would, from nginx on port 80
    with `Host: HOST` (127.0.0.1, no redirect followed), then writes a self-signed certificate
    and key to /etc/letsencrypt/live/HOST/ (fullchain.pem, privkey.pem; an ECDSA key, certbot's
    default since 2.0), saves the renewal settings with the hook, and runs the hook, as certbot
    does after it gets a certificate. `certbot renew --dry-run`: the same challenge for every
    saved certificate, now through whatever site nginx serves, then the saved hook, which a
    real dry run leaves out (certbot runs it after a real renewal): the check proves it works."""
    try:
        if args[:1] == ["certonly"]:
            options = _certbot_options(args[1:])
            _challenge(options["webroot"], options["domain"])
            live = Path("/etc/letsencrypt/live") / options["domain"]
            live.mkdir(parents=True, exist_ok=True)
            os.chmod(live.parent, 0o700)
            domain, key, chain = options["domain"], live / "privkey.pem", live / "fullchain.pem"
            names = f"-subj /CN={domain} -addext subjectAltName=DNS:{domain}"
            command = "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes"
            run([*f"{command} -days 90 {names}".split(), "-keyout", str(key), "-out", str(chain)])
            renewal = Path("/etc/letsencrypt/renewal")
            renewal.mkdir(parents=True, exist_ok=True)
            (renewal / f"{options['domain']}.json").write_text(json.dumps(options))
            print(f"certbot (stand-in): a throwaway certificate for {options['domain']}")
            _hook(options)
            return 0
        if args == ["renew", "--dry-run"]:
            saved = sorted(Path("/etc/letsencrypt/renewal").glob("*.json"))
            expect(bool(saved), "no certificate to renew")
            for path in saved:
                options = json.loads(path.read_text())
                _challenge(options["webroot"], options["domain"])
                print(f"certbot (stand-in): renewal of {options['domain']} would succeed")
                _hook(options)
            return 0
    except CheckFailed as exc:
        print(f"certbot (stand-in): {exc}", file=sys.stderr)
        return 1
    print(f"certbot (stand-in) knows `certonly --webroot` and `renew --dry-run`, not {args}")
    return 1


def _certbot_options(args: list[str]) -> dict:
    options: dict = {"hook": None}
    words = iter(args)
    for word in words:
        if word == "--webroot":
            continue
        if word in ("-w", "--webroot-path"):
            options["webroot"] = next(words)
        elif word in ("-d", "--domains", "--domain"):
            options["domain"] = next(words)
        elif word == "--deploy-hook":
            options["hook"] = next(words)
        else:
            raise CheckFailed(f"the stand-in does not know {word}")
    expect("webroot" in options and "domain" in options, "-w DIR and -d HOST are needed")
    return options


def _challenge(webroot: str, domain: str) -> None:
    token = secrets.token_urlsafe(32)
    content = f"{token}.{secrets.token_urlsafe(32)}"
    folder = Path(webroot) / ".well-known" / "acme-challenge"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / token).write_text(content)
    try:
        conn = http.client.HTTPConnection("127.0.0.1", 80, timeout=10)
        conn.request("GET", f"/.well-known/acme-challenge/{token}", headers={"Host": domain})
        response = conn.getresponse()
        body = response.read().decode(errors="replace")
        conn.close()
    except OSError as exc:
        raise CheckFailed(f"nothing answers on port 80: {exc}") from exc
    finally:
        (folder / token).unlink()
    expect(
        response.status == 200 and body == content,
        f"http://{domain}/.well-known/acme-challenge/… answered {response.status} "
        f"{response.getheader('Location') or body[:80]!r}, not the token: the challenge fails",
    )
    print(f"certbot (stand-in): the challenge for {domain} is served from {webroot}")


def _hook(options: dict) -> None:
    if options["hook"]:
        result = subprocess.run(["/bin/sh", "-c", options["hook"]])
        expect(result.returncode == 0, f"the deploy hook {options['hook']!r} failed")
        print(f"certbot (stand-in): ran the deploy hook {options['hook']!r}")


SECURE_PATH = SYSTEM_PATH  # Debian's sudoers `secure_path`


def shim_sudo(args: list[str]) -> int:
    """`sudo -u USER COMMAND…`: COMMAND as USER (setpriv, with the user's groups) in the same
    folder, with the environment sudo's env_reset gives: HOME, USER, LOGNAME and SHELL of
    USER, PATH = Debian's secure_path (the stand-ins first), LANG and TERM kept."""
    if len(args) < 3 or args[0] != "-u":
        print(f"sudo (stand-in) knows `sudo -u USER COMMAND…`, not {args}", file=sys.stderr)
        return 1
    user = pwd.getpwnam(args[1])
    command = args[3:] if args[2] == "--" else args[2:]
    shims = os.environ["PATH"].split(":", 1)[0]
    env = {
        "PATH": f"{shims}:{SECURE_PATH}",
        "HOME": user.pw_dir,
        "USER": user.pw_name,
        "LOGNAME": user.pw_name,
        "SHELL": user.pw_shell,
        "MAIL": f"/var/mail/{user.pw_name}",
    }
    env.update({key: os.environ[key] for key in ("LANG", "TERM") if key in os.environ})
    os.execve(
        "/usr/bin/setpriv",
        [
            "setpriv",
            f"--reuid={user.pw_uid}",
            f"--regid={user.pw_gid}",
            "--init-groups",
            "--",
            *command,
        ],
        env,
    )
    return 1


def shim_git(args: list[str]) -> int:
    """`git clone <repository> DIR`: DIR gets this checkout's files as they are now (tracked
    and untracked, not ignored: `git ls-files -co --exclude-standard`), written by the user who
    runs it with its umask, as a clone's checkout is; `<repository>` must be this checkout.
    `git pull` (in such a copy): the files are copied again, only those that changed.
    Either refuses to start in a folder the user cannot read, as git does."""
    plan = load_plan()
    try:
        here = Path(os.getcwd())
    except OSError:
        print("fatal: Unable to read current working directory", file=sys.stderr)
        return 128
    if len(args) == 3 and args[0] == "clone":
        source, target = Path(args[1]), here / args[2]
        if source.resolve() != Path(plan["repository"]):
            print(f"git (stand-in) clones only {plan['repository']}", file=sys.stderr)
            return 128
        if target.exists() and any(target.iterdir()):
            print(f"fatal: destination path '{args[2]}' already exists", file=sys.stderr)
            return 128
        _copy_tree(plan, source, target)
        print(f"Cloning into '{args[2]}'... (stand-in: {len(plan['files'])} files copied)")
        return 0
    if args == ["pull"]:
        changed = _copy_tree(plan, Path(plan["repository"]), here)
        print(f"git pull (stand-in): {changed} files changed")
        return 0
    print(f"git (stand-in) knows `clone` and `pull`, not {args}", file=sys.stderr)
    return 1


def _copy_tree(plan: dict, source: Path, target: Path) -> int:
    mask = os.umask(0)
    os.umask(mask)
    changed = 0
    for name in plan["files"]:
        origin, copy = source / name, target / name
        if not origin.is_file():  # deleted in the working tree
            continue
        copy.parent.mkdir(parents=True, exist_ok=True)
        data = origin.read_bytes()
        if copy.is_file() and copy.read_bytes() == data:
            continue
        partial = copy.with_name(copy.name + ".partial")
        partial.write_bytes(data)
        os.chmod(partial, (0o777 if os.access(origin, os.X_OK) else 0o666) & ~mask)
        os.replace(partial, copy)
        changed += 1
    return changed


SHIM_FUNCTIONS = {
    "apt-get": shim_apt_get,
    "systemctl": shim_systemctl,
    "certbot": shim_certbot,
    "sudo": shim_sudo,
    "git": shim_git,
}
