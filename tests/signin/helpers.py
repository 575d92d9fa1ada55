from binascii import unhexlify

from django_otp.oath import TOTP

from signin.services import second_factor_enrol


def code_for(key_hex: str, ahead: int = 0) -> str:
    """The app's code for the secret now (`ahead` steps later: a fresh code that the last
    accepted one has not used up yet)."""
    return f"{TOTP(unhexlify(key_hex.encode()), drift=ahead).token():06d}"


def spent_code(device) -> str:
    """The code the device last accepted (its step, `last_t`), whenever the test asks: a code
    computed from the clock instead is a fresh one once a 30-second step has ended."""
    totp = TOTP(unhexlify(device.key.encode()))
    totp.time = device.last_t * totp.step
    return f"{totp.token():06d}"


def enrol(person, key_hex: str = "3132333435363738393031323334353637383930"):
    """Connects an app for `person`; returns (device, recovery codes)."""
    return second_factor_enrol(person=person, key=key_hex, code=code_for(key_hex))
