"""Argon2id with parameters measured on the portal's own hardware (see `make bench`)."""

from django.contrib.auth.hashers import Argon2PasswordHasher


class PortalArgon2PasswordHasher(Argon2PasswordHasher):
    """Django's Argon2id hasher (argon2-cffi). Its defaults are RFC 9106's second recommended
    option scaled down for web servers; the parameters here are the trust issue's measured
    choice, kept in one place so a change re-hashes everyone at their next sign-in."""
