"""Money as integer micro-units of a euro: exact sums, no float drift, no rounding surprises.

One euro is 1,000,000 micros. Every amount stored, counted or compared is an ``int`` of micros;
decimal text (``"1.80"``) is converted once, exactly, at the edge (configuration, CLI, admin API).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

MICROS_PER_EUR = 1_000_000


class InvalidAmount(ValueError):
    """Text that is not a non-negative amount with at most six decimals."""


def eur_to_micros(amount: str | int | Decimal) -> int:
    """Exact conversion; refuses sub-micro precision instead of rounding it away."""
    try:
        value = Decimal(str(amount))
    except InvalidOperation as error:
        raise InvalidAmount(f"'{amount}' is not an amount in EUR") from error
    if not value.is_finite() or value < 0:
        raise InvalidAmount(f"'{amount}' is not a non-negative amount in EUR")
    micros = value * MICROS_PER_EUR
    if micros != micros.to_integral_value():
        raise InvalidAmount(f"'{amount}' has more than six decimals")
    return int(micros)


def micros_to_eur(micros: int) -> Decimal:
    return Decimal(micros) / MICROS_PER_EUR


def format_eur(micros: int) -> str:
    """``1234567`` -> ``"1.234567"``: exact, trailing zeros kept to two decimals."""
    sign = "-" if micros < 0 else ""
    whole, fraction = divmod(abs(micros), MICROS_PER_EUR)
    digits = f"{fraction:06d}".rstrip("0")
    return f"{sign}{whole}.{digits.ljust(2, '0')}"


def ceil_div(numerator: int, denominator: int) -> int:
    """Integer ceiling division (for non-negative numerators): a started micro is a charged micro."""
    return -(-numerator // denominator)
