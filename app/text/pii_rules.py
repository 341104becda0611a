"""Personal details with a shape: emails, phone numbers, postcodes, usernames, dates and ages."""

from __future__ import annotations

import re
from collections.abc import Iterator

from app.text.pii_tokens import Hit


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63})+", re.ASCII)
# "priya90 at gmail dot com": people spell an address out to get it past a filter.
EMAIL_SPELT = re.compile(
    r"(?<![\w.])[A-Za-z0-9][\w.+-]{0,63}\s*(?:\(at\)|\[at\]|\s+at\s+)\s*"
    r"(?:gmail|googlemail|hotmail|outlook|yahoo|icloud|live|btinternet|aol|proton(?:mail)?|"
    r"sky|mail|me|example)\s*(?:\.|\(dot\)|\[dot\]|\s+dot\s+)\s*"
    r"(?:com|co\s*(?:\.|\s+dot\s+)\s*uk|org|net|uk)\b",
    re.IGNORECASE,
)

PHONE = re.compile(r"(?<![\w+/.(])(?:\+|00|\()?\d[\d ().\-–]{7,20}\d(?![\w/])")

POSTCODE_AREAS = _words(
    """AB AL B BA BB BD BF BH BL BN BR BS BT BX CA CB CF CH CM CO CR CT CV CW DA DD DE DG DH DL DN
    DT DY E EC EH EN EX FK FY G GL GU GY HA HD HG HP HR HS HU HX IG IM IP IV JE KA KT KW KY L LA LD
    LE LL LN LS LU M ME MK ML N NE NG NN NP NR NW OL OX PA PE PH PL PO PR RG RH RM S SA SE SG SK
    SL SM SN SO SP SR SS ST SW SY TA TD TF TN TQ TR TS TW UB W WA WC WD WF WN WR WS WV YO ZE"""
)
POSTCODE = re.compile(
    r"(?<![A-Za-z0-9])([A-Za-z]{1,2})(\d[A-Za-z\d]?) ?(\d[A-Za-z]{2})(?![A-Za-z0-9])"
)
ORDINAL = re.compile(r"\d(?:st|nd|rd|th)$", re.IGNORECASE)
# "I live in M14", "the LS8 area": an outward code alone only with a clue, and in capitals.
OUTWARD = re.compile(
    r"(?:\b(?:in|from|near|around|round|postcode(?:\s+is)?|live\s+in|lived\s+in)\s+)"
    r"([A-Z]{1,2}\d[A-Z\d]?)(?![A-Za-z0-9])"
    r"|(?<![A-Za-z0-9])([A-Z]{1,2}\d[A-Z\d]?)(?=\s+(?:area|postcode)\b)"
)

PLATFORM = (
    r"(?:snap(?:chat)?|sc|insta(?:gram)?|ig|tik\s?tok|twitter|discord|youtube|yt|fb|facebook|"
    r"threads|twitch|psn|xbox|gamertag|kik|telegram|bereal|roblox|steam|reddit|pinterest)"
)
HANDLE_AT = re.compile(r"(?<![\w@.+-])@[A-Za-z0-9_](?:[A-Za-z0-9_.]{0,28}[A-Za-z0-9_])?")
HANDLE_AFTER_PLATFORM = re.compile(
    rf"\b{PLATFORM}(?:\s+(?:name|username|user|handle|tag|id|acc(?:ount)?))?"
    r"(?P<sep>\s*(?:[:=\-–]|\bis\b|\bit'?s\b|\bits\b|\bit\s+is\b)\s*|\s+)"
    r"(?P<user>@?[A-Za-z0-9_][A-Za-z0-9_.]{1,29})",
    re.IGNORECASE,
)

MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
DAY = r"(?:[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)?"
YEAR = r"(?:19[5-9]\d|20[0-4]\d|'\d\d)"
DATE = re.compile(
    rf"\b{DAY}(?:\s+of)?\s+{MONTH}(?:,?\s+{YEAR})?(?![\w'])"
    rf"|\b{MONTH}\s+(?:the\s+)?{DAY}(?:,?\s+{YEAR})?(?![\w'])"
    rf"|\b{MONTH},?\s+{YEAR}(?![\w'])"
    r"|(?<![\d/.-])(?:[0-3]?\d)[/.-](?:[01]?\d)[/.-](?:\d{4}|\d\d)(?![\d/.-])"
    r"|(?<![\d/.-])(?:19|20)\d\d-[01]\d-[0-3]\d(?![\d/.-])",
    re.IGNORECASE,
)
# "born on 14/7": a day and month without a year, only after a birthday clue.
SHORT_DATE = re.compile(
    r"\b(?:born(?:\s+on)?|birthday(?:\s+is)?(?:\s+on)?|bday(?:\s+is)?(?:\s+on)?|dob(?:\s+is)?)"
    r"\s*:?\s*((?:[0-3]?\d)[/.-](?:[01]?\d))(?![\d/.-])",
    re.IGNORECASE,
)
YEAR_WITH_CLUE = re.compile(
    r"\b(?:in|since|from|until|till|til|during|of|summer|winter|spring|autumn|christmas|"
    r"easter|back\s+in)\s+((?:19[5-9]\d|20[0-3]\d))(?![\d/.:-])",
    re.IGNORECASE,
)

NUMBER_WORDS = (
    r"(?:twenty(?:[\s-]?(?:one|two|three|four|five))?|nineteen|eighteen|seventeen|sixteen|"
    r"fifteen|fourteen|thirteen|twelve|eleven|ten|nine|eight|seven|six|five|four|three|two|one)"
)
AGE_NUMBER = rf"(?P<age>\d{{1,2}}|{NUMBER_WORDS})"
HEDGE = (
    r"(?:\s+(?:only|just|like|about|around|nearly|almost|maybe|literally|barely|basically|"
    r"still|already))*"
)
AGE_BEFORE = re.compile(
    r"\b(?:i\s*['’]?\s*m|im|i\s+am|i\s+was|i\s+were|we\s+were|i\s+turned|i\s+turn|i\s+turns|"
    r"i\s+(?:had\s+)?just\s+turned|turned|turning|turns|aged?|(?:the\s+)?age\s+of|at\s+age|"
    r"i\s*['’]?ll\s+be|i\s+will\s+be|i\s+would\s+have\s+been|"
    r"(?:he|she|they)\s*(?:['’]?s|\s+is|\s+was|\s+were|\s+are|\s+turned)|"
    r"(?:brother|sister|bro|sis|son|daughter|baby|cousin|kid|child|mum|dad|partner)"
    r"\s*(?:['’]?s|\s+is|\s+was|\s+turned|\s+turns)|"
    r"(?-i:[A-Z][a-z]+)(?:\s+(?:is|was|turned|turns)|['’]s))"
    rf"{HEDGE}\s+{AGE_NUMBER}\b",
    re.IGNORECASE,
)
# Weaker clues ("at 14", "since 7") need a number that looks like a young person's age.
AGE_WEAK = re.compile(
    rf"\b(?:at|since|from)\s+{AGE_NUMBER}\b(?!\s*(?:-|to|and|till|until)\s*\d)",
    re.IGNORECASE,
)
AGE_AFTER = re.compile(
    rf"\b{AGE_NUMBER}(?:\s*-?\s*(?:years?|yrs?|yr)(?:\s*-?\s*old)|\s*(?:yo|y/o|y\.o\.?))(?!\w)"
    rf"|\b(?P<nth>\d{{1,2}}(?:st|nd|rd|th))\s+(?:birthday|bday|b-day)\b",
    re.IGNORECASE,
)
NOT_AN_AGE_AFTER = re.compile(
    r"\s*(?:%|£|\$|:\d|\.\d|[ap]\.?m\b|o['’]?clock|mins?\b|minutes?|hours?|hrs?\b|days?\b|"
    r"weeks?|months?|miles?|times?|pounds?|quid|percent|p\b|k\b|grand|metres?|feet|foot|ft\b|stone|"
    r"kg|of\b|out\b|people|places|schools|homes|placements|workers|kids|children|others?\b|"
    r"and\s+a\s+half\b|x\b|th\b|st\b|nd\b|rd\b|/|-\d)",
    re.IGNORECASE,
)

GENERAL_AFTER = re.compile(
    r"[\s,]+(?:you|u|ya|people|kids|children|young|everyone|everybody|they|most|lots|loads)\b",
    re.IGNORECASE,
)


def find_emails(text: str) -> Iterator[Hit]:
    for m in EMAIL.finditer(text):
        yield Hit(m.start(), m.end(), "EMAIL", 100)
    for m in EMAIL_SPELT.finditer(text):
        yield Hit(m.start(), m.end(), "EMAIL", 100)


def find_phones(text: str) -> Iterator[Hit]:
    for m in PHONE.finditer(text):
        raw = m.group().rstrip(" .-–(")
        if raw.count("(") != raw.count(")"):
            raw = raw.lstrip("(") if raw.startswith("(") else raw
        if _is_phone(raw):
            yield Hit(m.start(), m.start() + len(raw), "PHONE", 95)


def _is_phone(raw: str) -> bool:
    digits = re.sub(r"\D", "", raw)
    international = raw.startswith(("+", "00"))
    if international:
        digits = digits[2:] if raw.startswith("00") else digits
        if digits.startswith("44"):
            national = digits[2:]
            national = national if national.startswith("0") else "0" + national
            return 10 <= len(national) <= 11 and national[1] in "1237"
        return _possible_international("+" + digits)
    return digits.startswith("0") and 10 <= len(digits) <= 11 and digits[1] in "1237"


def _possible_international(number: str) -> bool:
    import phonenumbers  # loaded only when someone writes a foreign number

    try:
        return bool(phonenumbers.is_possible_number(phonenumbers.parse(number, None)))
    except phonenumbers.NumberParseException:
        return False


def find_postcodes(text: str) -> Iterator[Hit]:
    for m in POSTCODE.finditer(text):
        area, district, inward = m.groups()
        ordinal = ORDINAL.search(inward) and inward[-2:].islower() and not area.islower()
        if area.upper() in POSTCODE_AREAS and not ordinal:  # "M1 1st" is not a postcode
            if area.islower() != district.islower() and not district.isdigit():
                continue  # mixed case such as "Ab1c": not written as a postcode
            yield Hit(m.start(), m.end(), "POSTCODE", 90)
    for m in OUTWARD.finditer(text):
        group = 1 if m.group(1) else 2
        letters = re.match(r"[A-Z]+", m.group(group))
        if letters and letters.group() in POSTCODE_AREAS:
            yield Hit(m.start(group), m.end(group), "POSTCODE", 60)


def find_handles(text: str, common: frozenset[str], words: frozenset[str]) -> Iterator[Hit]:
    for m in HANDLE_AT.finditer(text):
        if len(m.group()) > 2:
            yield Hit(m.start(), m.end(), "HANDLE", 90)
    for m in HANDLE_AFTER_PLATFORM.finditer(text):
        user = m.group("user").rstrip(".")
        bare = user.lstrip("@").lower()
        if bare in common or len(bare) < 2:
            continue  # "add me on snap if you want"
        odd = user.startswith("@") or any(c.isdigit() or c in "_." for c in bare)
        explicit = m.group("sep").strip() != ""  # "snap: x", "my insta is x"
        if odd or bare not in words:
            yield Hit(m.start("user"), m.start("user") + len(user), "HANDLE", 85)
        elif explicit:
            yield Hit(m.start("user"), m.start("user") + len(user), "HANDLE", 40)


def find_dates(text: str) -> Iterator[Hit]:
    for m in DATE.finditer(text):
        raw = m.group()
        if raw[:3].lower() in {"may", "mar"} and not re.search(r"\d", raw):
            continue
        if re.fullmatch(r"(?i)(?:may|march)\s+\d{1,2}", raw) and raw[0].islower():
            continue  # "I may 5" / "we march 2": words, not dates
        numeric = "/" in raw or "." in raw or raw.count("-") == 2
        if numeric and not _numeric_date_ok(raw):
            continue
        yield Hit(m.start(), m.end(), "DATE", 80)
    for m in SHORT_DATE.finditer(text):
        day, month = (int(p) for p in re.split(r"[/.-]", m.group(1)))
        if 1 <= day <= 31 and 1 <= month <= 12:
            yield Hit(m.start(1), m.end(1), "DATE", 70)
    for m in YEAR_WITH_CLUE.finditer(text):
        yield Hit(m.start(1), m.end(1), "DATE", 55)


def _numeric_date_ok(raw: str) -> bool:
    parts = re.split(r"[/.-]", raw)
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        return True
    if len(parts[0]) == 4:  # 2011-07-14
        parts = [parts[2], parts[1], parts[0]]
    a, b = int(parts[0]), int(parts[1])
    return (1 <= a <= 31 and 1 <= b <= 12) or (1 <= a <= 12 and 1 <= b <= 31)


def find_ages(text: str) -> Iterator[Hit]:
    for m in AGE_BEFORE.finditer(text):
        if _age_ok(text, m.group("age"), m.end("age"), strong=True):
            yield Hit(m.start("age"), m.end("age"), "AGE", 75)
    for m in AGE_WEAK.finditer(text):
        if _age_ok(text, m.group("age"), m.end("age"), strong=False):
            yield Hit(m.start("age"), m.end("age"), "AGE", 45)
    for m in AGE_AFTER.finditer(text):
        group = "age" if m.group("age") else "nth"
        yield Hit(m.start(group), m.end(group), "AGE", 75)


def _age_ok(text: str, number: str, end: int, *, strong: bool) -> bool:
    if NOT_AN_AGE_AFTER.match(text, end):
        return False
    if not strong and re.match(r"\s+(?!I\b)[A-Z][a-z]", text[end : end + 4]):
        return False  # "at 14 Elm Road" is an address
    if not strong and GENERAL_AFTER.match(text, end):
        return False  # "at 16 you get treated like an adult": about everyone
    if number.isdigit():
        value = int(number)
        return 1 <= value <= 25 if strong else 5 <= value <= 25
    return strong or number.lower() not in {"one", "two", "three", "four"}
