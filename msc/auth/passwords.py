"""Password hashing (Argon2id) and the password policy (OWASP ASVS 2.1 and 2.4)."""

from __future__ import annotations

import functools

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from flask_babel import gettext as _


def _hasher() -> PasswordHasher:
    config = current_app.config
    return _cached_hasher(
        config["ARGON2_TIME_COST"], config["ARGON2_MEMORY_COST"], config["ARGON2_PARALLELISM"]
    )


@functools.cache
def _cached_hasher(time_cost: int, memory_cost: int, parallelism: int) -> PasswordHasher:
    return PasswordHasher(
        time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism, type=Type.ID
    )


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher().check_needs_rehash(password_hash)


def spend_verification_time(password: str) -> None:
    """Verify against a throwaway hash so an unknown username takes as long as a wrong password."""
    verify_password(_dummy_hash(), password)


def _dummy_hash() -> str:
    config = current_app.config
    return _cached_dummy(
        config["ARGON2_TIME_COST"], config["ARGON2_MEMORY_COST"], config["ARGON2_PARALLELISM"]
    )


@functools.cache
def _cached_dummy(time_cost: int, memory_cost: int, parallelism: int) -> str:
    return _cached_hasher(time_cost, memory_cost, parallelism).hash("dummy password for timing")


@functools.cache
def common_passwords() -> frozenset[str]:
    """The 30,000 most common passwords of the zxcvbn project (from leaked-password corpora)."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(password.lower() for password in FREQUENCY_LISTS["passwords"])


def password_problems(password: str, username: str | None = None) -> list[str]:
    """What is wrong with a new password; empty when it is acceptable.

    ASVS 2.1.1/2.1.2: 12 to 128 characters; 2.1.9: no composition rules; 2.1.7: refuse common
    passwords. Spaces and any Unicode character are allowed and nothing is truncated.
    """
    config = current_app.config
    minimum, maximum = config["PASSWORD_MIN_LENGTH"], config["PASSWORD_MAX_LENGTH"]
    problems = []
    if len(password) < minimum:
        problems.append(_("Use at least %(n)d characters.", n=minimum))
    if len(password) > maximum:
        problems.append(_("Use at most %(n)d characters.", n=maximum))
    lowered = password.lower()
    if lowered in common_passwords() or len(set(lowered)) <= 2:
        problems.append(_("This password is too common. Choose one that is harder to guess."))
    elif username and len(username) >= 3 and username.lower() in lowered:
        problems.append(_("The password must not contain the username."))
    return problems
