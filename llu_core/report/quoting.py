"""Numbers as the prose quotes them (the values a chapter glues into its sentences)."""


def rounded(value, digits=1):
    """``value`` rounded to ``digits`` decimals, with no negative zero.

    A change of −0.04 points printed with ``:+.1f`` reads "-0.0", which says the opposite of
    "no change"; rounded here first, it reads "+0.0".

    Parameters
    ----------
    value : float
    digits : int

    Returns
    -------
    float
    """
    return round(float(value), digits) + 0.0  # adding +0.0 turns −0.0 into 0.0


def significant(value, digits=3):
    """``value`` rounded to ``digits`` significant digits, as a slider's readout shows it.

    A logarithmic slider at the position the reader reads as 2.00 holds 10^0.3 = 1.99526;
    rounded here, a figure's title says γ = 2 as the slider does (and 1000 stays 1000).
    """
    return float(f"{float(value):.{digits}g}") + 0.0
