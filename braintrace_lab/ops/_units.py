"""Unit helpers: ETP primitives see plain mantissas; users may pass brainunit quantities."""
import brainunit as u

__all__ = ['strip', 'attach', 'to_unit', 'product_unit']


def strip(value):
    """Return ``(mantissa, unit or None)`` for an array or a brainunit quantity."""
    if isinstance(value, u.Quantity):
        return value.mantissa, value.unit
    return value, None


def product_unit(*units):
    """Product of the units that are present, or None when all are absent or unitless."""
    unit = None
    for un in units:
        if un is None or un.is_unitless:
            continue
        unit = un if unit is None else unit * un
    return unit


def attach(mantissa, *units):
    """Multiply the units that are present and attach them to ``mantissa``."""
    unit = product_unit(*units)
    if unit is None:
        return mantissa
    return u.Quantity(mantissa, unit=unit)


def to_unit(value, unit):
    """Express ``value`` in ``unit`` (dimensionless when ``unit`` is None) as a plain array."""
    if isinstance(value, u.Quantity):
        if unit is None:
            return value.to_decimal(u.UNITLESS) if not value.unit.is_unitless else value.mantissa
        return value.to_decimal(unit)
    if unit is not None and not unit.is_unitless:
        raise u.UnitMismatchError(
            f'Expected a quantity in {unit}, got a plain value of shape {getattr(value, "shape", ())}. '
            f'Multiply it by the unit, e.g. value * u.{unit}.')
    return value
