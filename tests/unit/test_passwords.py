import pytest
from argon2 import PasswordHasher, extract_parameters

from config.settings import ProductionSettings
from msc.auth.passwords import common_passwords, hash_password, password_problems, verify_password


def test_hash_is_argon2id_and_verifies():
    hashed = hash_password("a long and private passphrase")
    assert hashed.startswith("$argon2id$")
    assert verify_password(hashed, "a long and private passphrase")
    assert not verify_password(hashed, "a long and private passphrasE")
    assert not verify_password("not a hash", "anything")


def test_production_parameters_meet_owasp_minimums():
    # OWASP Password Storage Cheat Sheet: Argon2id with at least m=19 MiB, t=2, p=1.
    hasher = PasswordHasher(
        time_cost=ProductionSettings.ARGON2_TIME_COST,
        memory_cost=ProductionSettings.ARGON2_MEMORY_COST,
        parallelism=ProductionSettings.ARGON2_PARALLELISM,
    )
    parameters = extract_parameters(hasher.hash("x"))
    assert parameters.type.name == "ID"
    assert parameters.memory_cost >= 19 * 1024
    assert parameters.time_cost >= 2


@pytest.mark.parametrize(
    ("password", "ok"),
    [
        ("x" * 11, False),
        ("elevenchars", False),
        ("twelve chars", True),
        (("correct horse battery " * 6)[:128], True),  # 128 characters
        (("correct horse battery " * 6)[:129], False),  # 129 characters
        ("Ђорђе и пас на Дунаву", True),  # any script, spaces allowed, no composition rules
        ("all lower case words here", True),
    ],
)
def test_length_rules(app, password, ok):
    with app.app_context():
        assert (password_problems(password) == []) is ok


def test_common_passwords_are_refused(app):
    long_common = sorted(p for p in common_passwords() if len(p) >= 12)[:5]
    assert long_common, "the common-password list has long entries to test with"
    with app.app_context():
        for password in long_common:
            assert password_problems(password), password
        assert password_problems("aaaaaaaaaaaaaaaa")  # one repeated character
        assert password_problems("ababababababab")


def test_password_containing_the_username_is_refused(app):
    with app.app_context():
        assert password_problems("jelena.petrovic-2026", "jelena.petrovic")
        assert not password_problems("a long and private passphrase", "jelena.petrovic")
