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
