"""docs/deploy.md and `make deploy-check` (scripts/deploy_check.py) cannot drift apart.

The check runs the guide's commands as written; these tests fail, without running anything,
when the guide has a command the check cannot run (a program that is neither run as written
nor one of its stand-ins), when the check keeps a stand-in no command uses, when a numbered
step belongs to no part of the check, or when the check sets a setting the guide does not.
"""

import ast
import importlib.util
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "deploy.md"
CHECK = ROOT / "scripts" / "deploy_check.py"
# The check's code: CHECK and its modules.
CHECK_CODE = [CHECK, *sorted((ROOT / "scripts" / "deploycheck").glob("*.py"))]


def _load_check():
    if "deploy_check" in sys.modules:
        return sys.modules["deploy_check"]
    spec = importlib.util.spec_from_file_location("deploy_check", CHECK)
    module = importlib.util.module_from_spec(spec)
    sys.modules["deploy_check"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


check = _load_check()
STEPS = check.extract_steps(DOC.read_text())
COMMANDS = [step for step in STEPS if step.file is None]


def test_the_guide_has_steps_and_one_env_file():
    assert len(COMMANDS) > 30
    files = [step for step in STEPS if step.file]
    assert [step.file for step in files] == ["/srv/cdt-portal/app/.env"]
    # The settings module comes from .env: the check sets none itself.
    assert "DJANGO_SETTINGS_MODULE=cdt_portal.settings.production\n" in files[0].text


def test_every_numbered_step_belongs_to_a_part_of_the_check():
    parts = set(check.FIRST_SERVER) | {check.BACKUP_STEP, check.RESTORE_STEP, check.UPGRADE_STEP}
    assert {step.number for step in STEPS} == parts
    for number, words in check.NEW_SERVER_AGAIN.items():
        again = [s for s in STEPS if s.number == number and any(w in s.text for w in words)]
        assert again, f"step {number} has no command with {words} to do again on a new server"


def test_every_program_is_run_as_written_or_stood_in():
    known = check.RUN_AS_WRITTEN | set(check.SHIMS)
    for step in COMMANDS:
        unknown = set(check.programs(step.text)) - known
        assert not unknown, f"§{step.number} `{step.text}`: the check cannot run {unknown}"


def test_no_stand_in_and_no_listed_program_goes_unused():
    used = {program for step in COMMANDS for program in check.programs(step.text)}
    assert set(check.SHIMS) <= used, f"stand-ins no command uses: {set(check.SHIMS) - used}"
    assert check.RUN_AS_WRITTEN <= used, f"listed but unused: {check.RUN_AS_WRITTEN - used}"
    assert set(check.SHIM_FUNCTIONS) == set(check.SHIMS)
    for name, function in check.SHIM_FUNCTIONS.items():
        assert function.__doc__ and len(function.__doc__) > 100, f"{name}: say what it does"


def test_packages_stood_in_are_the_stand_ins_programs():
    install = next(s for s in COMMANDS if s.text.startswith("apt-get install"))
    packages = set(install.text.split()[3:])
    assert check.PACKAGES_STOOD_IN <= packages
    assert check.PACKAGES_STOOD_IN <= set(check.SHIMS)


def test_the_words_the_check_looks_for_are_in_the_guide():
    texts = [step.text for step in COMMANDS]
    assert any("--pwprompt" in text for text in texts)
    assert any("createsuperuser" in text for text in texts)
    assert any("make restore ARCHIVE=<archive>" in text for text in texts)
    backups = [s for s in COMMANDS if s.number == check.BACKUP_STEP]
    assert len(backups) == 1 and "make backup" in backups[0].text


def test_every_placeholder_is_filled_and_names_change_only_where_documented():
    plan = {"repository": str(ROOT), "password": "pw", "redis_db": 7}
    subs = check.Substitutions(plan, {"cdt_portal": "cdt_portal_check_1"})
    subs.archive = "/srv/cdt-portal/backups/cdt-portal-20260101-000000.tar"
    for step in STEPS:
        if step.file:
            # The python3 one-liner is run; here only its removal is checked.
            text = re.sub(r'<python3 -c "[^"]+">', "x", step.text)
            filled = subs.env_file(text)
        else:
            filled = subs.command(step.text)
        assert not re.search(r"<[a-z][\w-]*>", filled), f"a placeholder is left in {filled!r}"
        for line in filled.splitlines():
            renamed = "cdt_portal_check_1" in line
            postgres = set(check.programs(line)) & check.POSTGRES_PROGRAMS if not step.file else ()
            database_url = line.startswith(("DATABASE_URL=", "DATABASE_OWNER_URL="))
            assert renamed == bool(postgres or database_url), line
            if step.file and line.startswith("REDIS_URL="):
                assert line.endswith("/7")


def test_answers_match_the_interactive_commands():
    plan = {"password": "pw", "superuser_password": "spw"}
    subs = check.Substitutions(plan, {})
    assert subs.answers("sudo -u postgres createuser cdt_portal --pwprompt") == ["pw", "pw"]
    answers = subs.answers("sudo -u cdt-portal .venv/bin/python manage.py createsuperuser")
    assert answers[0] == check.SUPERUSER and answers[-2:] == ["spw", "spw"]
    assert subs.answers("sudo -u cdt-portal make install") is None


def _settings_names() -> set[str]:
    names = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M))
    env_block = next(step.text for step in STEPS if step.file)
    names |= set(re.findall(r"^([A-Z][A-Z0-9_]+)=", env_block, re.M))
    return names


def test_the_check_sets_no_setting_the_guide_does_not():
    """No string in the check's code (docstrings aside) assigns a setting (`NAME=`) or is one
    (a key of an environment), and no keyword argument is named after one; the three settings
    whose values it changes in the .env block are named once, in SUBSTITUTED_SETTINGS."""
    names = _settings_names()
    assert {"DJANGO_SETTINGS_MODULE", "REQUIRE_2FA_FOR_MANAGERS", "DATABASE_URL"} <= names
    assert set(check.SUBSTITUTED_SETTINGS) == {"DATABASE_URL", "DATABASE_OWNER_URL", "REDIS_URL"}
    trees = {path.relative_to(ROOT).as_posix(): ast.parse(path.read_text()) for path in CHECK_CODE}
    docstrings = {
        id(node.body[0].value)
        for tree in trees.values()
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.FunctionDef | ast.ClassDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    substituted = next(
        node.value
        for tree in trees.values()
        for node in tree.body
        if isinstance(node, ast.Assign)
        and isinstance(node.targets[0], ast.Name)
        and node.targets[0].id == "SUBSTITUTED_SETTINGS"
    )
    allowed = {id(element) for element in substituted.elts}
    for path, tree in trees.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.keyword):
                assert node.arg not in names, f"{path}:{node.lineno}: {node.arg}= as a keyword"
            if not isinstance(node, ast.Constant) or not isinstance(node.value, str):
                continue
            if id(node) in docstrings or id(node) in allowed:
                continue
            for name in names:
                where = f"{path}:{node.lineno}"
                assert node.value != name, f"{where}: the setting {name} as a string"
                assert f"{name}=" not in node.value, f"{where}: assigns {name}"


def test_the_commands_run_with_a_login_environment_only():
    assert set(check.ROOT_ENV) <= {"HOME", "USER", "LOGNAME", "SHELL", "LANG", "TERM"}
    assert not set(check.ROOT_ENV) & _settings_names()


def test_the_guide_renders_every_variable_of_the_nginx_template():
    template = (ROOT / "deploy" / "nginx" / "cdt-portal.conf").read_text()
    used = set(re.findall(r"\$\{([A-Z_]+)\}", template))
    envsubst = next(step.text for step in COMMANDS if "envsubst" in check.programs(step.text))
    listed = set(re.findall(r"\$([A-Z_]+)", envsubst.split("envsubst", 1)[1].split("<")[0]))
    given = {word.split("=")[0] for word in envsubst.split("envsubst")[0].split() if "=" in word}
    assert used == listed == given


def test_the_certificate_is_renewed_with_a_reload_through_the_portals_site():
    certbot = [step.text for step in COMMANDS if step.text.startswith("certbot")]
    assert any('--deploy-hook "systemctl reload nginx"' in text for text in certbot)
    renew = [s for s in COMMANDS if s.text.startswith("certbot renew --dry-run")]
    nginx_site = next(s for s in COMMANDS if s.text.startswith("ln -s /etc/nginx/sites-available"))
    assert renew and renew[0].number >= nginx_site.number


def test_commands_are_split_into_programs():
    assert check.programs("A=1 B='x y' envsubst '$A $B' < in.conf > out.conf") == ["envsubst"]
    assert check.programs("cd app && sudo -u cdt-portal make install") == ["cd", "sudo", "make"]
    assert check.programs("nginx -t && systemctl reload nginx   # reload") == [
        "nginx",
        "systemctl",
    ]


def test_an_sh_block_outside_the_numbered_steps_is_refused():
    with pytest.raises(ValueError, match="does not run"):
        check.extract_steps("## Notes\n\n```sh\nrm -rf /\n```\n")
    assert check.extract_steps("## Notes\n\n```text\njournalctl -f\n```\n") == []
    steps = check.extract_steps("## 1. One\n\n```sh\na \\\n  b\n\nc  # why\n```\n")
    assert [step.text for step in steps] == ["a b", "c  # why"]


def test_totp_matches_rfc_6238():
    # RFC 6238, appendix B: the SHA-1 secret "12345678901234567890", T = 59 s -> 94287082.
    secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
    assert check.totp(secret, at=59) == "287082"
    assert check.totp(secret, at=1111111109) == "081804"
