"""The guide's steps (imported by tests/deployment/test_deploy_doc.py, through
scripts/deploy_check.py): its commands and file, the programs they run, and what the check
fills in or renames in them."""

from __future__ import annotations

import re
import shlex
import subprocess
from dataclasses import dataclass

from .common import expect


@dataclass(frozen=True)
class Step:
    section: str  # the heading without "## ", e.g. "3. The system user and the code"
    text: str  # an sh command as written (continued lines joined), or a file's content
    file: str | None = None  # where a file block goes

    @property
    def number(self) -> int:
        return int(self.section.split(".", 1)[0])


NUMBERED = re.compile(r"^(\d+)\. ")


def extract_steps(markdown: str) -> list[Step]:
    """Every command of the `sh` blocks and every `ini` block (a file, at the path the heading
    names in backticks) of the numbered sections, in order. Other blocks (`text`) are examples
    and not run; an `sh` block in an unnumbered section is refused, so nothing looks runnable
    that the check does not run."""
    steps: list[Step] = []
    section = ""
    block: list[str] | None = None
    language = ""
    for line in markdown.splitlines():
        if block is None:
            if line.startswith("## "):
                section = line[3:].strip()
            elif line.startswith("```"):
                language, block = line[3:].strip(), []
            continue
        if line.strip() != "```":
            block.append(line)
            continue
        numbered = NUMBERED.match(section) is not None
        if language == "sh":
            if not numbered:
                raise ValueError(f"an sh block in «{section}», which the check does not run")
            steps += [Step(section, command) for command in _commands(block)]
        elif language == "ini" and numbered:
            path = re.search(r"`(/[^`]+)`", section)
            if path is None:
                raise ValueError(f"an ini block in «{section}», whose heading names no file")
            steps.append(Step(section, "\n".join(block) + "\n", file=path.group(1)))
        block = None
    return steps


def _commands(lines: list[str]) -> list[str]:
    """Logical command lines: backslash-continued lines joined, blank lines dropped."""
    commands, current = [], ""
    for line in lines:
        if current:
            line = line.strip()
        if line.endswith("\\"):
            current += line[:-1].rstrip() + " "
            continue
        current += line
        if current.strip():
            commands.append(current.strip())
        current = ""
    return commands


def simple_commands(command: str) -> list[list[str]]:
    """The words of each simple command in a line (split at &&, ||, ;, |), without leading
    VAR=value assignments, redirections and comments."""
    lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    result: list[list[str]] = []
    words: list[str] = []
    redirect = False
    for token in lexer:
        if token in ("&&", "||", ";", "|", "&"):
            result.append(words)
            words = []
        elif token in ("<", ">", ">>", "2>", "&>"):
            redirect = True
        elif redirect:
            redirect = False
        elif not words and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", token):
            continue
        else:
            words.append(token)
    result.append(words)
    return [words for words in result if words]


def programs(command: str) -> list[str]:
    """The programs a command line runs: `sudo -u USER prog …` counts as sudo and prog."""
    found = []
    for words in simple_commands(command):
        found.append(words[0])
        if words[0] == "sudo" and len(words) > 3 and words[1] == "-u":
            found.append(words[3])
    return found


# Programs the guide runs as they are (after the packages of step 1 are installed).
RUN_AS_WRITTEN = set(
    """
    cd adduser install chown chmod cp ln rm usermod envsubst nginx make curl
    .venv/bin/python createuser createdb psql
    """.split()
)
# The stand-ins, each a function of standins.SHIM_FUNCTIONS (its docstring says what it does).
SHIMS = ("apt-get", "systemctl", "certbot", "sudo", "git")
# Packages of step 1 that may be missing here because their program is a stand-in.
PACKAGES_STOOD_IN = {"certbot", "sudo"}
# Programs whose lines name database roles and databases (the names get the run's suffix).
POSTGRES_PROGRAMS = {"createuser", "createdb", "dropdb", "psql"}
# The only .env settings whose values the check changes (documented in Substitutions).
SUBSTITUTED_SETTINGS = ("DATABASE_URL", "DATABASE_OWNER_URL", "REDIS_URL")
# Which steps make each part of the check; tests/deployment/test_deploy_doc.py holds every
# numbered step of the guide to one of them.
FIRST_SERVER = range(1, 10)
BACKUP_STEP, RESTORE_STEP, UPGRADE_STEP = 10, 11, 12
# On the "new server" of step 11 (the same machine), these steps are done again with new names:
# step 2's roles and empty database, step 3's empty folders, step 4's .env.
NEW_SERVER_AGAIN = {2: ("",), 3: ("install -d",), 4: ("",)}
# The superuser step 6 creates (what is typed at its prompts: Substitutions.answers).
SUPERUSER = "superuser"


class Substitutions:
    """What the check fills in or renames, every change printed beside the step:

    - every database role and database whose name begins with `cdt_portal` gets the run's
      suffix after that beginning (`cdt_portal` → `cdt_portal_check_<pid>`, a later
      `cdt_portal_app` → `cdt_portal_check_<pid>_app`), in the lines of POSTGRES_PROGRAMS and
      in DATABASE_URL and DATABASE_OWNER_URL only: the guide's names would meet CI's own
      `cdt_portal` database; the
      host drops everything with the run's prefix at the end;
    - REDIS_URL's database number becomes the empty one the check claimed (db 0 may hold
      someone else's queue on a developer's machine); emptied afterwards;
    - `<repository>` is this checkout, `<password>` and `<owner password>` the roles' password,
      `<archive>` the path
      step 10's backup printed, `<python3 -c "…">` what that command prints.
    """

    def __init__(self, plan: dict, names: dict[str, str]) -> None:
        self.plan = plan
        self.names = names
        self.archive: str | None = None

    def _rename(self, text: str) -> str:
        for old, new in self.names.items():
            text = re.sub(rf"\b{re.escape(old)}(\w*)", rf"{new}\1", text)
        return text

    def _placeholders(self, text: str) -> str:
        text = text.replace("<repository>", self.plan["repository"])
        text = text.replace("<password>", self.plan["password"])
        text = text.replace("<owner password>", self.plan["password"])
        if "<archive>" in text:
            expect(self.archive is not None, "<archive> before step 10 printed one")
            text = text.replace("<archive>", self.archive)

        def evaluate(match: re.Match) -> str:
            out = subprocess.run(
                ["python3", "-c", match.group(1)], capture_output=True, text=True, check=True
            )
            return out.stdout.strip()

        return re.sub(r'<python3 -c "([^"]+)">', evaluate, text)

    def command(self, text: str) -> str:
        if set(programs(text)) & POSTGRES_PROGRAMS:
            text = self._rename(text)
        return self._placeholders(text)

    def env_file(self, text: str) -> str:
        lines = []
        for line in text.splitlines():
            name = line.partition("=")[0]
            if name in SUBSTITUTED_SETTINGS[:2]:  # the two database URLs
                line = self._rename(line)
            elif name == SUBSTITUTED_SETTINGS[2]:  # the Redis URL
                line = re.sub(r"/\d+$", f"/{self.plan['redis_db']}", line)
            lines.append(line)
        return self._placeholders("\n".join(lines) + "\n")

    def answers(self, text: str) -> list[str] | None:
        if "--pwprompt" in text:
            return [self.plan["password"]] * 2
        if "createsuperuser" in text:
            # The username, User.REQUIRED_FIELDS (e-mail, surname, first name), the password twice.
            password = self.plan["superuser_password"]
            return [
                SUPERUSER,
                "superuser@example.ru",
                "Портала",
                "Администратор",
                password,
                password,
            ]
        return None
