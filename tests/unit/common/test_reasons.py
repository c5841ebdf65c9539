from pathlib import Path

import pytest

from titan_common.reasons import ReasonCode

ARCHITECTURE = Path(__file__).resolve().parents[4] / "shared" / "ARCHITECTURE.md"


def documented_codes() -> set[str]:
    text = ARCHITECTURE.read_text()
    section = text.split("## Reason codes", 1)[1].split("## Order intents", 1)[0]
    words = section.replace("`", " ").split()
    return {w for w in words if w.isupper() and "_" in w and w != "AI"}


@pytest.mark.skipif(not ARCHITECTURE.exists(), reason="shared/ARCHITECTURE.md not beside the repo")
def test_every_documented_reason_code_exists() -> None:
    missing = documented_codes() - {c.value for c in ReasonCode}
    assert not missing


def test_values_equal_names() -> None:
    for code in ReasonCode:
        assert code.value == code.name
