"""What each column of a contact export means: header synonyms -> import targets.

Headers are compared after lower-casing and dropping everything but letters and digits, so
"E-mail 1 - Value", "E-Mail-Adresse" and "email_address" all find their entry. Names come
from the exports of LinkedIn (Connections.csv), HubSpot, Salesforce, Apollo, Google
Contacts, Outlook (English and German) and hand-made Excel sheets.
"""

from __future__ import annotations

import re

from contacts.custom_keys import custom_field_key

# target -> label shown in the mapping dropdown
TARGETS: dict[str, str] = {
    "first_name": "First name",
    "last_name": "Last name",
    "full_name": "Full name (split at the last space)",
    "company": "Company",
    "title": "Job title",
    "time_zone": "Time zone",
    "country": "Country",
    "locale": "Locale",
    "email": "Email",
    "phone": "Phone",
    "whatsapp": "WhatsApp",
    "instagram": "Instagram",
    "x": "X (Twitter)",
    "linkedin": "LinkedIn",
    "tiktok": "TikTok",
    "telegram": "Telegram",
    "snapchat": "Snapchat",
    "messenger": "Facebook / Messenger",
    "tags": "Tags / lists",
    "consent": "Consent given (yes/no)",
    "opted_out": "Opted out / do not contact (yes/no)",
}

# fmt: off
_SYNONYMS: dict[str, list[str]] = {
    "first_name": [
        "first name", "firstname", "first", "given name", "givenname", "forename",
        "vorname", "prénom", "prenom", "nombre", "nome", "voornaam",
    ],
    "last_name": [
        "last name", "lastname", "last", "surname", "family name", "familyname",
        "nachname", "familienname", "nom", "apellido", "apellidos", "cognome", "achternaam",
    ],
    "full_name": [
        "name", "full name", "fullname", "contact name", "display name", "contact",
        "vollständiger name", "kontakt", "nom complet", "nombre completo",
    ],
    "company": [
        "company", "company name", "companyname", "account name", "account", "organization",
        "organisation", "organization name", "organization 1 - name", "employer",
        "firma", "unternehmen", "firmenname", "organisation 1 - name", "société", "empresa",
    ],
    "title": [
        "title", "job title", "jobtitle", "position", "role", "designation",
        "organization title", "organization 1 - title", "headline",
        "berufsbezeichnung", "titel", "funktion", "stellung", "poste", "cargo",
    ],
    "time_zone": ["time zone", "timezone", "tz", "zeitzone", "fuseau horaire"],
    "country": [
        "country", "country/region", "countryregion", "mailing country", "billing country",
        "business country/region", "home country/region", "land", "land/region", "pays", "país",
    ],
    "locale": ["locale", "language", "preferred language", "sprache", "langue"],
    "email": [
        "email", "e-mail", "email address", "e-mail address", "emailaddress", "mail",
        "work email", "business email", "personal email", "email 1", "email 2",
        "e-mail 2 address", "e-mail 3 address", "e-mail-adresse", "e-mail-adresse 2",
        "e-mail 2: adresse", "emailadresse", "courriel", "correo", "correo electrónico",
        "primary email", "secondary email",
    ],
    "phone": [
        "phone", "phone number", "phonenumber", "telephone", "tel", "mobile", "mobile phone",
        "mobile phone number", "cell", "cell phone", "work phone", "business phone",
        "home phone", "direct phone", "work direct phone", "corporate phone", "other phone",
        "primary phone", "telefon", "telefonnummer", "handy", "mobiltelefon", "mobil",
        "telefon geschäftlich", "telefon privat", "téléphone", "teléfono", "telefono",
        "phone 1", "phone 2",
    ],
    "whatsapp": ["whatsapp", "whatsapp number", "whatsapp nummer", "wa"],
    "instagram": ["instagram", "instagram handle", "instagram url", "ig", "insta"],
    "x": [
        "twitter", "x", "twitter handle", "twitter url", "x handle", "x url", "twitter username",
    ],
    "linkedin": [
        "linkedin", "linkedin url", "linkedin profile", "person linkedin url", "url",
        "profile url", "linkedin profile url", "linkedin-profil",
    ],
    "tiktok": ["tiktok", "tik tok", "tiktok handle", "tiktok url"],
    "telegram": ["telegram", "telegram handle", "telegram username", "telegram url"],
    "snapchat": ["snapchat", "snap", "snapchat handle"],
    "messenger": ["facebook", "facebook url", "fb", "messenger", "facebook profile"],
    "tags": [
        "tags", "tag", "labels", "label", "lists", "list", "group membership", "groups",
        "categories", "kategorien", "schlagwörter", "stichwörter", "gruppen", "étiquettes",
    ],
    "consent": [
        "consent", "email opt in", "opt in", "opted in", "marketing consent", "gdpr consent",
        "einwilligung", "subscribed",
    ],
    "opted_out": [
        "opted out", "opt out", "unsubscribed", "do not contact", "do not email",
        "donotcall", "do not call", "email opt out", "hasoptedoutofemail", "abgemeldet",
        "nicht kontaktieren", "werbewiderspruch",
        # Mailchimp's unsubscribed and cleaned exports: when the person left or bounced.
        "unsub time", "clean time",
    ],
}
# fmt: on

# Columns worth keeping that mean none of the targets: a custom field named after the column.
# HubSpot's "Marketing contact status" is its billing flag ("Marketing contact" /
# "Non-marketing contact"), not consent.
_CUSTOM = ["marketing contact status", "unsub reason", "unsub reason other"]

# Headers that only sometimes mean their target: Outlook's "Title" is the salutation (Mr.,
# Ms.) beside its "Job Title", German Outlook's "Titel" the academic one (Dr.). A column with
# a clearer header for the same target wins over them.
_WEAK = {"title", "titel"}

# Numbered columns: Google's "E-mail 1 - Value", "Phone 2 - Value", Outlook's "E-mail 2".
_PATTERNS = [
    (re.compile(r"^e?mail\d*(value|address|adresse)?$"), "email"),
    (re.compile(r"^phone\d*(value|number)?$"), "phone"),
    # Sales Navigator, Recruiter and company page URLs are not the person's profile.
    (
        re.compile(r"^(website|socialprofile)?\d*linkedin(?!.*(sales|company|recruiter))"),
        "linkedin",
    ),
]


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9äöüßéèáíóúñç]", "", name.lower())


_INDEX = {_key(syn): target for target, syns in _SYNONYMS.items() for syn in syns}
_INDEX.update({_key(t): t for t in TARGETS})
_CUSTOM_KEYS = {_key(name) for name in _CUSTOM}
_WEAK_KEYS = {_key(name) for name in _WEAK}


def is_weak(header: str) -> bool:
    return _key(header) in _WEAK_KEYS


def guess_target(header: str) -> str:
    key = _key(header)
    if not key:
        return ""
    if key in _INDEX:
        return _INDEX[key]
    if key in _CUSTOM_KEYS:
        custom = custom_field_key(header, fallback="")
        return f"custom:{custom}" if custom else ""
    for pattern, target in _PATTERNS:
        if pattern.match(key):
            return target
    return ""


# Column names only one language uses, for guessing where a file's national phone numbers
# are from when nothing else says (csv_import.suggest_country). Words shared by several
# languages ("nome", "telefono", "mobil") are left out.
# fmt: off
_LANGUAGES: dict[str, tuple[str, str, list[str]]] = {
    "german": ("DE", "German", [
        "vorname", "nachname", "familienname", "firma", "firmenname", "unternehmen",
        "telefon", "telefonnummer", "handy", "mobiltelefon", "telefon geschäftlich",
        "telefon privat", "e-mail-adresse", "emailadresse", "straße", "strasse", "plz",
        "postleitzahl", "ort", "anrede", "geburtstag", "notizen", "abteilung",
        "berufsbezeichnung", "kategorien", "einwilligung", "abgemeldet",
    ]),
    "french": ("FR", "French", [
        "prénom", "prenom", "société", "téléphone", "courriel", "code postal", "ville",
        "adresse e-mail", "portable", "nom complet",
    ]),
    "spanish": ("ES", "Spanish", [
        "apellido", "apellidos", "teléfono", "correo", "correo electrónico", "ciudad",
        "nombre completo", "móvil",
    ]),
    "italian": ("IT", "Italian", ["cognome", "azienda", "cellulare", "città"]),
    "dutch": ("NL", "Dutch", ["voornaam", "achternaam", "bedrijf", "telefoonnummer", "woonplaats"]),
}
# fmt: on
_LANGUAGE_KEYS = {key: {_key(word) for word in words} for key, (_, _, words) in _LANGUAGES.items()}


def header_country(header: list[str]) -> tuple[str, str]:
    """(country, language) the column names point to, e.g. ("DE", "German"), or ("", "")."""
    keys = {_key(name) for name in header}
    hits = {language: len(keys & words) for language, words in _LANGUAGE_KEYS.items()}
    language = max(hits, key=lambda k: hits[k])
    if not hits[language]:
        return "", ""
    code, name, _ = _LANGUAGES[language]
    return code, name
