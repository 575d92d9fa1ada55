"""The server's configuration files: nginx accepts the site, its TLS is Mozilla's
«intermediate» profile, the systemd units are sandboxed (`systemd-analyze security` exposure
4.5 or below) and the portal still renders its documents under the units' seccomp filters.

The tools (nginx, openssl, systemd-analyze, libseccomp) are skipped where they are missing,
except in CI, where CDT_REQUIRE_DEPLOY_TOOLS=1 (.ci/run) turns a missing tool into a failure.
"""

import ctypes.util
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SITE = ROOT / "deploy" / "nginx" / "cdt-portal.conf"
UNITS = [
    ROOT / "deploy" / "systemd" / f"{name}.service"
    for name in ("cdt-portal-web", "cdt-portal-worker")
]
MAX_EXPOSURE = 4.5


def _load_check():
    if "deploy_check" in sys.modules:
        return sys.modules["deploy_check"]
    path = ROOT / "scripts" / "deploy_check.py"
    spec = importlib.util.spec_from_file_location("deploy_check", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["deploy_check"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


check = _load_check()


def need(tool: str) -> str:
    """The tool's path; skipped without it, failed without it in CI."""
    found = shutil.which(tool) or (ctypes.util.find_library(tool) if tool == "seccomp" else None)
    if found:
        return found
    message = f"{tool} is not installed"
    if os.environ.get("CDT_REQUIRE_DEPLOY_TOOLS") == "1":
        pytest.fail(f"{message} (CDT_REQUIRE_DEPLOY_TOOLS=1)")
    pytest.skip(message)


def render(template: str, values: dict[str, str]) -> str:
    """What `envsubst '$A $B …'` does with the listed variables."""
    for name, value in values.items():
        template = template.replace("${" + name + "}", value)
    left = re.findall(r"\$\{[A-Z_]+\}", template)
    assert not left, f"not given: {left}"
    return template


def directives(name: str) -> list[str]:
    return re.findall(rf"^\s*{name}\s+([^;]+);", SITE.read_text(), re.M)


# --- nginx ------------------------------------------------------------------------------------


def test_nginx_accepts_the_rendered_site(tmp_path):
    nginx = need("nginx")
    openssl = need("openssl")
    cert, key = tmp_path / "tls.crt", tmp_path / "tls.key"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=portal.example.ru", "-keyout", key, "-out", cert],
        check=True,
        capture_output=True,
    )  # fmt: skip
    (tmp_path / "media").mkdir()
    (tmp_path / "webroot").mkdir()
    site = render(
        SITE.read_text(),
        {
            "PORTAL_HOST": "portal.example.ru",
            "HTTPS_LISTEN": "127.0.0.1:8443",
            "HTTP_LISTEN": "127.0.0.1:8080",
            "TLS_CERT": str(cert),
            "TLS_KEY": str(key),
            "APP_SERVERS": "server 127.0.0.1:8000;",
            "MEDIA_ROOT": str(tmp_path / "media"),
            "ACME_WEBROOT": str(tmp_path / "webroot"),
            "DHPARAM": str(ROOT / "deploy" / "nginx" / "ffdhe2048.pem"),
        },
    )
    (tmp_path / "site.conf").write_text(site)
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\n"
        f"error_log {tmp_path}/error.log;\n"
        "events {}\n"
        "http {\n"
        f"    access_log {tmp_path}/access.log;\n"
        f"    client_body_temp_path {tmp_path}/body;\n"
        f"    proxy_temp_path {tmp_path}/proxy;\n"
        f"    include {tmp_path}/site.conf;\n"
        "}\n"
    )
    result = subprocess.run(
        [nginx, "-t", "-p", tmp_path, "-c", tmp_path / "nginx.conf", "-e", tmp_path / "error.log"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "[warn]" not in result.stderr, result.stderr


def test_tls_is_mozillas_intermediate_profile():
    assert directives("ssl_protocols") == ["TLSv1.2 TLSv1.3"]
    assert directives("ssl_prefer_server_ciphers") == ["off"]
    assert directives("ssl_session_tickets") == ["off"]
    assert directives("ssl_dhparam") == ["${DHPARAM}"]
    (ciphers,) = directives("ssl_ciphers")
    assert ciphers.split(":") == [
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "ECDHE-RSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-RSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-CHACHA20-POLY1305",
        "ECDHE-RSA-CHACHA20-POLY1305",
        "DHE-RSA-AES128-GCM-SHA256",
        "DHE-RSA-AES256-GCM-SHA384",
        "DHE-RSA-CHACHA20-POLY1305",
    ]


def test_every_cipher_has_forward_secrecy_and_an_aead():
    openssl = need("openssl")
    (ciphers,) = directives("ssl_ciphers")
    listed = subprocess.run(
        [openssl, "ciphers", "-v", ciphers], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    # OpenSSL 3 lists TLS 1.3's own suites too (set apart, all AEAD with ephemeral keys).
    listed = [line for line in listed if line.split()[1] != "TLSv1.3"]
    assert len(listed) == len(ciphers.split(":"))
    for line in listed:
        fields = dict(field.split("=", 1) for field in line.split() if "=" in field)
        # Kx=ECDH or DH: an ephemeral key exchange; not RSA (the key transport of AES128-SHA).
        assert fields["Kx"] in ("ECDH", "DH"), line
        assert fields["Mac"] == "AEAD", line


def test_the_dh_group_is_rfc_7919_ffdhe2048():
    openssl = need("openssl")
    result = subprocess.run(
        [openssl, "pkeyparam", "-in", ROOT / "deploy/nginx/ffdhe2048.pem", "-noout", "-text"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "GROUP: ffdhe2048" in result.stdout


def test_every_answer_says_no_version_and_refuses_unused_features():
    text = SITE.read_text()
    servers = text.split("\nserver {")[1:]
    assert len(servers) == 2
    for server in servers:
        assert re.search(r"^\s*server_tokens off;", server, re.M)
        policy = re.search(r'^\s*add_header Permissions-Policy "([^"]+)" always;', server, re.M)
        assert policy, "Permissions-Policy on every answer (always: errors and redirects too)"
        features = dict(item.split("=") for item in policy.group(1).split(", "))
        for feature in ("camera", "microphone", "geolocation", "payment", "usb"):
            assert features[feature] == "()"
        # add_header in a location would drop the server's headers there.
        assert not re.search(r"location[^{]*\{[^}]*add_header", server)


def test_nginx_takes_the_largest_upload_with_its_form():
    """docs/deploy.md: `client_max_body_size 11m`, the signed scan's 10 MB (the staff list's
    5 MB) plus the form around it; a smaller limit would answer nginx's own 413 page."""
    from django.conf import settings

    from accounts.services import IMPORT_MAX_BYTES

    sizes = re.findall(r"^\s*client_max_body_size (\d+)m;", SITE.read_text(), re.M)
    assert sizes == ["11"]
    largest = max(settings.SCAN_MAX_BYTES, IMPORT_MAX_BYTES)
    assert largest + 512 * 1024 <= int(sizes[0]) * 1024 * 1024


def test_the_acme_challenge_is_served_before_the_https_redirect():
    plain = SITE.read_text().split("\nserver {")[1]
    acme = plain.index("location ^~ /.well-known/acme-challenge/ {")
    assert plain.index("root ${ACME_WEBROOT};") > acme
    assert acme < plain.index("return 301 https://")


# --- systemd ----------------------------------------------------------------------------------


@pytest.mark.parametrize("unit", UNITS, ids=lambda path: path.stem)
def test_systemd_exposure_is_low(unit):
    analyze = need("systemd-analyze")
    result = subprocess.run(
        [analyze, "security", "--offline=true", unit], capture_output=True, text=True
    )
    score = re.search(r"Overall exposure level for \S+: ([\d.]+)", result.stdout)
    assert score, result.stdout + result.stderr
    assert float(score.group(1)) <= MAX_EXPOSURE, result.stdout


@pytest.mark.parametrize("unit", UNITS, ids=lambda path: path.stem)
def test_the_deploy_check_knows_every_setting_of_the_units(unit):
    service = check.parse_unit(unit)  # refuses a setting the check neither applies nor lists
    assert service["ProtectSystem"] == ["strict"]
    assert service["User"] == ["cdt-portal"]
    writable = {path for value in service["ReadWritePaths"] for path in value.split()}
    assert "/srv/cdt-portal/media" in writable
    assert ("/srv/cdt-portal/backups" in writable) == unit.stem.endswith("worker")


def test_the_documents_render_under_the_units_seccomp_filters():
    """WeasyPrint (Pango through cffi), fonts and PDF joining under the filters the units ask
    for, built as systemd 252 builds them (the same code the deploy check's systemctl uses):
    MemoryDenyWriteExecute= (cffi's callbacks would need writable and executable memory),
    SystemCallFilter= and RestrictAddressFamilies=."""
    need("seccomp")
    need("systemd-analyze")
    service = check.parse_unit(UNITS[1])
    script = (
        "import sys, errno\n"
        f"sys.path.insert(0, {str(ROOT / 'scripts')!r})\n"
        "import deploy_check as check\n"
        "groups = check.syscall_groups()\n"
        f"check.restrict_address_families({service['RestrictAddressFamilies'][-1].split()!r})\n"
        "check.deny_write_execute()\n"
        f"check.allow_system_calls({service['SystemCallFilter']!r}, errno.EPERM, groups)\n"
        "import mmap\n"
        "try:\n"
        "    mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)\n"
        "    sys.exit('writable and executable memory was allowed')\n"
        "except OSError:\n"
        "    pass\n"
        "import pytest\n"
        "sys.exit(pytest.main(['tests/documents/test_order_layout.py', '-q', '-x',"
        " '-p', 'no:cacheprovider']))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, env=env
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert " passed" in result.stdout


def test_a_rush_of_requests_replaces_no_gunicorn_worker():
    """15 s of wrk -c8 at 800 requests a second, shared by the two workers, stays below the
    earliest replacement (max_requests less its jitter): deploy/gunicorn.conf.py."""
    spec = importlib.util.spec_from_file_location(
        "gunicorn_conf", ROOT / "deploy" / "gunicorn.conf.py"
    )
    conf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conf)
    rush_per_worker = 15 * 800 // conf.workers
    assert conf.max_requests - conf.max_requests_jitter > rush_per_worker
    assert conf.max_requests_jitter > 0  # the workers are not replaced at the same moment
