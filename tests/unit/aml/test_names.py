import pytest

from shared.aml import names
from shared.aml.errors import InvalidAmlName


@pytest.mark.parametrize("kind, value", [
    ("experiment name", "batch_scoring"), ("experiment name", "a"), ("run id", "batch_scoring_1700000000_ab12cd34"),
    ("pipeline id", "11111111-2222-3333-4444-555555555555"), ("pipeline version", "1.2"),
])
def test_accepts_valid_names(kind, value):
    assert names.segment(kind, value) == value


@pytest.mark.parametrize("value", ["..", "../x", "a/b", "a?b", "a#b", "a%2Fb", "a b", "", "-lead", "x" * 256,
                                   "\u0430dmin", "a\u2215b", None, 5])
def test_rejects_injection_attempts_before_anything_is_sent(value):
    for kind in ("experiment name", "run id", "pipeline id"):
        with pytest.raises(InvalidAmlName):
            names.segment(kind, value)
