import logging
from pathlib import Path

from titan_common.logging import BLACKBOX_FORMAT, KeyEvent, SecretRedactor, key_event, setup_logging

SECRETS = {
    "api_key=AKIA1234567890": "AKIA1234567890",
    '{"X-BAPI-SIGN": "0f3c9ab1d2"}': "0f3c9ab1d2",
    "Authorization: Basic YWRtaW46cGFzc3dvcmQ=": "YWRtaW46cGFzc3dvcmQ=",
    "postgresql://titan:s3cretpw@db:5432/titan": "s3cretpw",
    "password=correct-horse": "correct-horse",
    "'api_secret': 'zzTopSecretzz'": "zzTopSecretzz",
    "X-BAPI-API-KEY: KEYKEYKEY": "KEYKEYKEY",
}


def test_patterns_are_redacted() -> None:
    redactor = SecretRedactor()
    for text, secret in SECRETS.items():
        assert secret not in redactor.redact(text), text


def test_registered_values_are_redacted_anywhere() -> None:
    redactor = SecretRedactor(["literal-secret-value"])
    assert redactor.redact("oops literal-secret-value leaked") == "oops *** leaked"


def test_the_filter_keeps_secrets_out_of_the_log_file_and_tracebacks(tmp_path: Path) -> None:
    logger = setup_logging("redact-test", log_dir=tmp_path, secrets=["registered-token-123"])
    try:
        for text in SECRETS:
            logger.info("request %s", text)
        logger.warning("token in args: %s", "registered-token-123")
        try:
            raise RuntimeError("failed with password=inside-exception")
        except RuntimeError:
            logger.exception("boom")
        key_event(logger, KeyEvent.CRASH, "brain exited")
        for handler in logging.getLogger().handlers:
            handler.flush()
        written = (tmp_path / "redact-test.log").read_text()
    finally:
        for handler in list(logging.getLogger().handlers):
            logging.getLogger().removeHandler(handler)
    for secret in [*SECRETS.values(), "registered-token-123", "inside-exception"]:
        assert secret not in written
    assert "[INFO] CRASH brain exited" in written
    assert "Traceback" in written


def test_format_is_the_blackbox_format() -> None:
    assert BLACKBOX_FORMAT == "%(asctime)s [%(levelname)s] %(message)s"
