"""Letters retried inside a job wait MAIL_RETRY_DELAY seconds; none in tests."""

import pytest


@pytest.fixture(autouse=True)
def no_retry_waits(settings):
    settings.MAIL_RETRY_DELAY = 0
    settings.MAIL_SEND_RETRIES = 2
