import pytest

from shared.aml import names
from shared.aml.errors import InvalidAmlName


@pytest.mark.parametrize("kind, value", [
    ("compute name", "cpu-cluster"), ("compute name", "ab"), ("compute name", "a" * 24),
    ("cluster name", "gpu-cluster-01"), ("cluster name", "a1"), ("cluster name", "a" * 16),
    ("instance name", "ci-dev"), ("instance name", "abc"), ("instance name", "dev-box2"), ("instance name", "a" * 24),
    ("region", "westeurope"),
])
def test_accepts_valid_compute_names(kind, value):
    assert names.segment(kind, value) == value


@pytest.mark.parametrize("kind, value", [
    ("cluster name", "a" * 17),          # clusters stop at 16
    ("cluster name", "a"),               # and start at 2
    ("instance name", "ab"),             # instances start at 3
    ("instance name", "a" * 25),
    ("instance name", "cpu-cluster-1"),  # AML: digits may not end the name right after '-'
    ("instance name", "dev-12"),
    ("compute name", "1abc"), ("compute name", "-abc"), ("compute name", "abc-"), ("compute name", "a_b"),
    ("compute name", "a.b"), ("compute name", "a" * 25),
])
def test_rejects_names_aml_would_refuse(kind, value):
    with pytest.raises(InvalidAmlName):
        names.check(kind, value)


@pytest.mark.parametrize("value", ["..", "../x", "..%2Fx", "a/b", "a?b", "a#b", "a%2Fb", "a b", "", "ab\n",
                                   "\u0430dmin", "a\u2215b", "ａbc", None, 5])
def test_injection_attempts_fail_every_compute_rule(value):
    for kind in ("compute name", "cluster name", "instance name"):
        with pytest.raises(InvalidAmlName):
            names.segment(kind, value)


def test_a_trailing_newline_no_longer_slips_through_any_rule():
    for kind in ("experiment name", "run id", "pipeline version", "compute name"):
        with pytest.raises(InvalidAmlName):
            names.check(kind, "abc\n")
