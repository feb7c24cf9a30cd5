"""Email address normalisation and the look-alike rules that keep one person from impersonating another.

The stored form is `local@domain` with the local part lower-cased (NFC) and the domain in its ASCII
(IDNA/punycode) form, so `Alice@Bücher.example` and `alice@xn--bcher-kva.example` are one account.
Refused, each with its own code: syntax errors (`invalid_email`), invisible or control characters
(`email_invalid_characters`), compatibility forms such as full-width letters (`email_lookalike`), a
local part or domain label that mixes scripts, e.g. Cyrillic `а` inside Latin `alice`
(`email_mixed_script`), and a non-Latin local part made only of letters that look Latin, e.g.
all-Cyrillic `аррӏе` (`email_lookalike`).
"""
from __future__ import annotations

import unicodedata

from email_validator import EmailNotValidError, validate_email

from .rules import Rejected

MAX_EMAIL_LENGTH = 254

# Letters of other scripts (and odd Latin ones) that render like ASCII Latin letters.
LATIN_CONFUSABLES = frozenset(
    "аеорсухіјѕԁһӏԛԝвкмнтгпьёї"  # Cyrillic
    "АВЕКМНОРСТУХІЈЅ"
    "οαντρκιυχεωϲϳνβμζ"  # Greek
    "ΑΒΕΖΗΙΚΜΝΟΡΤΥΧ"
    "ɑıȷſɡɩʟᴀᴄᴅᴇᴊᴋᴍᴏᴘᴛᴜᴠᴡᴢ"  # Latin letters that are not the ASCII ones they resemble
)
LATIN_LOOKALIKES_IN_LATIN = frozenset("ɑıȷſɡɩʟᴀᴄᴅᴇᴊᴋᴍᴏᴘᴛᴜᴠᴡᴢ")
# Scripts that are legitimately written together count as one.
_SCRIPT_GROUPS = {"HIRAGANA": "JAPANESE", "KATAKANA": "JAPANESE", "CJK": "HAN", "HANGUL": "KOREAN"}


def _script(ch: str) -> str | None:
    """The script of a letter (first word of its Unicode name), None for digits/punctuation."""
    if not ch.isalpha():
        return None
    name = unicodedata.name(ch, "")
    word = name.split(" ", 1)[0] if name else "UNKNOWN"
    return _SCRIPT_GROUPS.get(word, word)


def scripts_of(text: str) -> set[str]:
    scripts = {s for s in map(_script, text) if s is not None}
    if "HAN" in scripts and scripts & {"JAPANESE", "KOREAN"}:
        scripts.discard("HAN")  # kanji/hanja mixed with kana/hangul is normal writing
    return scripts


def check_lookalike(text: str, what: str) -> None:
    """Refuse invisible characters, compatibility forms, mixed scripts and whole-script look-alikes."""
    for ch in text:
        if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp"):
            raise Rejected("email_invalid_characters",
                           f"The {what} contains an invisible or control character.")
    if unicodedata.normalize("NFKC", text) != text:
        raise Rejected("email_lookalike", f"The {what} uses look-alike (compatibility) characters.")
    scripts = scripts_of(text)
    if len(scripts) > 1:
        raise Rejected("email_mixed_script",
                       f"The {what} mixes alphabets ({', '.join(sorted(scripts))}); use one alphabet.")
    letters = [ch for ch in text if ch.isalpha()]
    if scripts == {"LATIN"} and any(ch in LATIN_LOOKALIKES_IN_LATIN for ch in letters):
        raise Rejected("email_lookalike", f"The {what} contains letters that imitate other letters.")
    if scripts and scripts != {"LATIN"} and letters and all(ch in LATIN_CONFUSABLES for ch in letters):
        raise Rejected("email_lookalike", f"The {what} imitates a Latin-letter address.")


def normalise_email(raw: str) -> str:
    """The canonical stored form of an address, or Rejected with a stable code."""
    if not isinstance(raw, str):
        raise Rejected("invalid_email", "The email address must be a string.")
    text = unicodedata.normalize("NFC", raw.strip())
    if not text or len(text) > MAX_EMAIL_LENGTH:
        raise Rejected("invalid_email", "Enter a valid email address.")
    if text.count("@") != 1:
        raise Rejected("invalid_email", "Enter a valid email address.")
    local, domain = text.rsplit("@", 1)
    check_lookalike(local, "email address")
    for label in domain.split("."):
        check_lookalike(label, "email domain")
    try:
        info = validate_email(text, check_deliverability=False, allow_smtputf8=True,
                              allow_quoted_local=False, allow_domain_literal=False)
    except EmailNotValidError as exc:
        raise Rejected("invalid_email", f"Enter a valid email address ({exc}).") from None
    local_part = info.local_part.lower()
    if len(local_part) != len(info.local_part):  # e.g. 'İ' lower-cases to two code points
        raise Rejected("email_lookalike", "The email address uses letters that change when lower-cased.")
    email = f"{local_part}@{info.ascii_domain.lower()}"
    if len(email) > MAX_EMAIL_LENGTH:
        raise Rejected("invalid_email", "The email address is too long.")
    return email
