"""The price band: an entry goes out only while the venue's price is near the price it was decided at.

The brain sized an entry on its reference price (the signal's entry) and its stop: the loss
at the stop is qty x |reference - stop|. A market order fills at the venue's price, so when
that price has moved far from the reference the position carries a risk nobody approved:
further from the stop, a bigger loss at the stop; nearer to it, a stop hit at once (or past
it, a stop the venue refuses). The band is a share of the stop distance, so it scales with
the risk itself rather than with the price level.

Beyond the band the entry is REFUSED with PRICE_MOVED. It is never sent as an IOC limit at
the band's edge: a partial fill at the edge still carries a worse risk than approved, and a
new signal at the new price is the brain's to decide (docs/decisions.md, "Price band
(issue 15)"). Exits are never refused for price: closing must always remain possible.

Pure: the caller fetches the venue's price.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from titan_common.messages import IntentKind, OrderIntent, Side
from titan_common.reasons import ReasonCode


@dataclass(frozen=True)
class BandRefusal:
    reason: ReasonCode
    detail: str
    reference: Decimal | None = None
    current: Decimal | None = None
    allowed: Decimal | None = None  # the largest move the band lets through

    def figures(self) -> dict[str, str | None]:
        """For the refusal's audit row."""
        return {
            "reference": None if self.reference is None else str(self.reference),
            "current": None if self.current is None else str(self.current),
            "allowed_move": None if self.allowed is None else str(self.allowed),
            "detail": self.detail,
        }


def price_band_refusal(intent: OrderIntent, current: Decimal | None, band_share: Decimal) -> BandRefusal | None:
    """Why the entry must not go out at the venue's `current` price; None means within the band.

    The band: |current - reference| <= band_share x |reference - stop|, with the reference
    the intent's `reference_price` (the signal's entry), else its limit price. Fail-closed:
    - beyond the band, or at/through the stop: PRICE_MOVED (refused, never re-priced);
    - the venue's price unknown (None, or not positive): PRICE_MOVED, since the entry
      cannot be shown to be within the band;
    - an entry with no reference price: SIGNAL_INVALID, there is nothing to measure from.
    An exit (kind EXIT, or reduce-only) is never refused, however far the price has moved.
    """
    if not 0 < band_share <= 1:
        raise ValueError("band_share must be in (0, 1]")
    if intent.kind is not IntentKind.ENTRY or intent.reduce_only:
        return None
    reference = intent.reference_price or intent.price
    stop = intent.stop_loss
    if reference is None or stop is None:
        return BandRefusal(ReasonCode.SIGNAL_INVALID, "an entry without a reference price cannot be banded")
    allowed = band_share * abs(reference - stop)
    if current is None or current <= 0:
        return BandRefusal(ReasonCode.PRICE_MOVED, "the venue's price is unknown", reference, None, allowed)
    through_stop = current <= stop if intent.side is Side.BUY else current >= stop
    moved = abs(current - reference)
    if through_stop:
        detail = f"price {current} is through the stop {stop}"
    elif moved > allowed:
        detail = f"price {current} is {moved} from the reference {reference}, beyond the band of {allowed}"
    else:
        return None
    return BandRefusal(ReasonCode.PRICE_MOVED, detail, reference, current, allowed)
