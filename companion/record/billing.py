"""Billing codes on a session: CPT and HCPCS codes with their modifiers, and units by the 8-minute rule.

Music therapy is billed under the codes of the service given: CPT 97110 (therapeutic exercise), 97112
(neuromuscular re-education), 97530 (therapeutic activities), 92507 (speech, language and voice
treatment), and HCPCS H2014 (skills training) or G0176 (activity therapy, per session of 45 minutes or
more). Timed codes are billed in 15-minute units; Medicare's 8-minute rule turns the session's timed
minutes into units (8-22 minutes: 1 unit, 23-37: 2, ...), and when several timed codes share a session
their units follow the minutes given to each. Untimed codes are one unit a session.

A code is typed as `CODE[-MOD[-MOD...]][:MINUTES]`, e.g. `97530-GP:30, 97112-GP:15, G0176`: up to four
two-character modifiers (GP, GN, 59, 95 ...), and the minutes spent on a timed code when more than one
timed code is billed (one timed code alone takes the session's time in to time out).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

from companion.record.access import Access
from companion.record.clock import iso, utc_now
from companion.record.database import Database
from companion.record.model import Session
from companion.record.notes import Notes
from companion.record.sessions import Sessions

UNIT_MINUTES = 15
MIN_BILLABLE_MINUTES = 8
MAX_MODIFIERS = 4

TIMED_CODES: dict[str, str] = {
    "97110": "therapeutic exercise",
    "97112": "neuromuscular re-education",
    "97116": "gait training",
    "97530": "therapeutic activities",
    "97533": "sensory integrative techniques",
    "97535": "self-care/home management training",
    "97153": "adaptive behaviour treatment by protocol",
    "H2014": "skills training and development",
    "H2019": "therapeutic behavioural services",
}
"""Codes billed per 15 minutes. Any other code is billed once a session (92507, 97150, G0176 ...)."""

_CODE = re.compile(
    r"^(?P<code>\d{4}[0-9FTU]|[A-V]\d{4})(?P<modifiers>(?:-[0-9A-Z]{2})*)(?::(?P<minutes>\d{1,3}))?$"
)


@dataclass(frozen=True)
class BillingCode:
    """One code on a session, with its modifiers and, for a timed code, the minutes it was given for."""

    code: str
    modifiers: tuple[str, ...] = ()
    minutes: int | None = None

    @property
    def timed(self) -> bool:
        return self.code in TIMED_CODES

    @property
    def text(self) -> str:
        """As stored and typed: `97530-GP:30`."""
        minutes = f":{self.minutes}" if self.minutes is not None else ""
        return "-".join((self.code, *self.modifiers)) + minutes


def parse_code(item: str) -> BillingCode:
    """One typed code; ValueError saying what a code looks like when it is not one."""
    found = _CODE.match(item.strip().upper())
    if found is None:
        raise ValueError(
            f"{item.strip()!r} is not a billing code: use a CPT code (five characters such as 97110 or "
            "0591T) or a HCPCS code (a letter and four digits such as H2014), with up to four modifiers and "
            "the minutes of a timed code, e.g. 97530-GP:30; separate codes with commas"
        )
    modifiers = tuple(m for m in found["modifiers"].split("-") if m)
    if len(modifiers) > MAX_MODIFIERS:
        raise ValueError(f"{item.strip()!r} has {len(modifiers)} modifiers: a claim line takes at most 4")
    minutes = int(found["minutes"]) if found["minutes"] else None
    if minutes is not None and found["code"] not in TIMED_CODES:
        raise ValueError(f"{found['code']} is billed once a session: it takes no minutes ({item.strip()!r})")
    return BillingCode(found["code"], modifiers, minutes)


def parse_billing_codes(text: str) -> tuple[str, ...]:
    """The codes a therapist typed ("97530-GP:30, 97112-gp:15 G0176"), as stored: upper-cased, in order,
    each once; ValueError naming the first that is not a code and what one looks like."""
    return tuple(code.text for code in parse_codes(text))


def parse_codes(text: str) -> tuple[BillingCode, ...]:
    """The codes a therapist typed ("97530-GP:30, 97112-GP:15" or one per space), in order, each once."""
    codes = [parse_code(item) for item in re.split(r"[\s,;]+", text) if item]
    seen: dict[str, BillingCode] = {}
    for code in codes:
        seen.setdefault(code.text, code)
    return tuple(seen.values())


@dataclass(frozen=True)
class BilledLine:
    """A code as billed: its minutes (timed codes) and units."""

    code: BillingCode
    minutes: int | None
    units: int


def units_for(minutes: int) -> int:
    """Medicare's 8-minute rule: whole 15-minute units, and one more for a remainder of 8 minutes or
    more (7 minutes alone bill nothing)."""
    whole, left = divmod(max(0, minutes), UNIT_MINUTES)
    return whole + (1 if left >= MIN_BILLABLE_MINUTES else 0)


def billed_lines(codes: Sequence[BillingCode], session_minutes: float | None) -> list[BilledLine] | str:
    """Each code with its units, or why the units cannot be worked out (in words, with the fix).

    The timed minutes together give the units (`units_for`); each timed code first gets the whole units
    its own minutes hold, and units left over go to the codes with the most minutes left over, as CMS
    allocates them."""
    timed = [c for c in codes if c.timed]
    minutes: dict[str, int] = {c.text: c.minutes for c in timed if c.minutes is not None}
    unknown = [c for c in timed if c.minutes is None]
    if unknown:
        if len(timed) > 1:
            return "several timed codes share the session: give each its minutes, e.g. " + ", ".join(
                f"{c.text}:{UNIT_MINUTES * 2}" for c in unknown
            )
        if session_minutes is None:
            return f"{unknown[0].text} is timed: end the session (time out) or give its minutes"
        minutes[unknown[0].text] = int(session_minutes)
    total = sum(minutes.values())
    if session_minutes is not None and total > session_minutes + 0.5:
        return f"the timed codes add up to {total} minutes, more than the session's {session_minutes:.0f}"
    units = {text: m // UNIT_MINUTES for text, m in minutes.items()}
    spare = units_for(total) - sum(units.values())
    for text in sorted(minutes, key=lambda t: minutes[t] % UNIT_MINUTES, reverse=True)[: max(0, spare)]:
        units[text] += 1
    return [
        BilledLine(c, minutes[c.text], units[c.text]) if c.timed else BilledLine(c, None, 1) for c in codes
    ]


@dataclass(frozen=True)
class BillingChange:
    """Codes changed on a session after a note of it was finalised (the audit trail a payer may ask for)."""

    changed_at: str
    before: tuple[str, ...]
    after: tuple[str, ...]
    changed_by: str


class Billing:
    """A session's billing codes, their units and the audit trail of later changes (`record.billing`)."""

    def __init__(self, db: Database, access: Access, sessions: Sessions, notes: Notes) -> None:
        self._db = db
        self._access = access
        self._sessions = sessions
        self._notes = notes

    def set_cpt_codes(self, session_id: int, codes: Sequence[str]) -> Session:
        """The session's billing codes, e.g. corrected on the note after the session ended. A change once a
        note of the session is finalised goes into the billing audit trail (`billing_audit`), with what the
        codes were and who changed them: a claim may already have been sent."""
        checked = parse_billing_codes(" ".join(codes))
        session = self._sessions.session(session_id)  # UnknownRecord for a session that does not exist
        before = session.cpt_codes
        if checked == before:
            return self._sessions.session(session_id)
        signed = self._notes.has_finalised_note(session_id)
        with self._db.transaction() as conn:
            conn.execute(
                "UPDATE sessions SET cpt_codes = ? WHERE id = ?", (json.dumps(list(checked)), session_id)
            )
            if signed:
                conn.execute(
                    "INSERT INTO billing_audit (session_id, changed_at, before, after, changed_by) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (
                        session_id,
                        iso(utc_now()),
                        json.dumps(before),
                        json.dumps(list(checked)),
                        self._notes.therapist().signature,
                    ),
                )
            self._access.changed(conn, "update", "sessions", session_id, session.client_ids, "billing codes")
        self._sessions.forget(session_id)
        return self._sessions.session(session_id)

    def billing_audit(self, session_id: int) -> list[BillingChange]:
        """Changes to a session's codes made after one of its notes was finalised, oldest first."""
        self._sessions.session(session_id)
        rows = self._db.query(
            "SELECT changed_at, before, after, changed_by FROM billing_audit WHERE session_id = ? "
            "ORDER BY id",
            (session_id,),
        )
        return [
            BillingChange(
                r["changed_at"],
                tuple(json.loads(r["before"])),
                tuple(json.loads(r["after"])),
                r["changed_by"],
            )
            for r in rows
        ]

    def billed(self, session_id: int) -> list[BilledLine] | str:
        """The session's codes with their units (8-minute rule over time in to time out), or why the units
        cannot be worked out yet."""
        session = self._sessions.session(session_id)
        return billed_lines(parse_codes(" ".join(session.cpt_codes)), session.duration_minutes)
