"""Safe rendering of outreach e-mail drafts: the model's plain text in, tenant-branded mail out.

The model never writes HTML or links. It answers three plain strings (subject, body, call to action);
this module cleans them and pours them into the tenant's own Jinja2 template, which owns every tag,
every link and every piece of branding. So a draft can only carry:

- the tenant's brand (name, colour, signature, footer, unsubscribe link, call-to-action link), taken
  from `tenants.brand`, never from the model;
- the model's text, escaped (HTML autoescaping), with anything that looks like markup or script
  stripped, every URL, e-mail address or domain name whose host is not on the tenant's allow-list
  replaced by ``[link removed]``, every phone-like number that is neither the tenant's nor the
  lead's replaced by ``[number removed]``, and newlines removed from the subject (header injection).

Some answers cannot be made safe by cleaning; those raise `DraftWithheld` with a reason meant for the
`outreach_drafts.skipped_reason` column (it never quotes the offending text): a body that is empty
once cleaned, a draft that names another tenant, a draft that repeats the workflow's instructions,
a tenant brand without a usable unsubscribe link.

Brand keys read from `tenants.brand` (all optional except `unsubscribe_url`):

=====================  ==========================================================================
``name``               display name (also ``brand_name``; default: `tenants.name`)
``colour``/``color``   header and button colour, ``#rgb`` or ``#rrggbb`` (default ``#1f6feb``)
``signature``          sign-off, may span lines (default ``The <name> team``)
``footer``             footer line: address, company number … (default: the name)
``unsubscribe_url``    ``https://`` / ``http://`` / ``mailto:`` link (also ``unsubscribe_link``)
``booking_url``        where the call-to-action button points (else ``website``, else no button)
``website``            the tenant's site
``phone``              the tenant's number (the only number besides the lead's a draft may carry)
``allowed_link_domains``  hosts whose links may stay in the model's text (subdomains included);
                       the hosts of the brand's own URLs above are always allowed
``facts``              business facts for the prompt (a string or a list of strings)
=====================  ==========================================================================

Templates: ``email_templates/<tenant_id>.html.j2`` and ``.txt.j2`` when the tenant has its own,
otherwise ``default.html.j2`` / ``default.txt.j2``; ``call_script.txt.j2`` for phone-only leads.
"""

from __future__ import annotations

import functools
import html
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jinja2 import FileSystemLoader, StrictUndefined, select_autoescape
from jinja2.sandbox import ImmutableSandboxedEnvironment

from batch_pipelines.db.tables import TENANT_SLUG_PATTERN

TEMPLATES_DIR = Path(__file__).with_name("email_templates")
LINK_REMOVED = "[link removed]"
NUMBER_REMOVED = "[number removed]"
DEFAULT_COLOUR = "#1f6feb"

# How many consecutive words of the instructions a draft may not repeat. Eight words in a row of a
# prompt almost never occur by chance in a short sales e-mail, and a leak quotes far more.
INSTRUCTION_RUN_WORDS = 8

_SLUG = re.compile(TENANT_SLUG_PATTERN)
_COLOUR = re.compile(r"#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})")


class DraftWithheld(Exception):
    """No draft can be produced safely; `reason` is fit for `outreach_drafts.skipped_reason`."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# --- brand ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Brand:
    """A tenant's branding for outreach mail, normalised and checked (see the module docstring)."""

    name: str
    colour: str
    signature: str
    footer: str
    unsubscribe_url: str | None
    cta_url: str | None
    phone: str | None
    allowed_hosts: tuple[str, ...]
    facts: tuple[str, ...]

    @classmethod
    def from_mapping(cls, brand: Mapping[str, Any], fallback_name: str = "") -> Brand:
        """Build a `Brand` from `tenants.brand`; unusable values (a colour that is not a hex
        colour, a link that is not http(s)) are dropped rather than trusted into the template."""
        name = brand_display_name(brand) or _one_line(fallback_name) or "Our team"
        colour = _str(brand.get("colour")) or _str(brand.get("color"))
        colour = colour if _COLOUR.fullmatch(colour) else DEFAULT_COLOUR
        allowed = {_host_of_domain(d) for d in _strings(brand.get("allowed_link_domains"))}
        web_urls = [
            u
            for u in (_str(brand.get("booking_url")), _str(brand.get("website")))
            if _is_web_url(u)
        ]
        unsubscribe = _str(brand.get("unsubscribe_url")) or _str(brand.get("unsubscribe_link"))
        if not (_is_web_url(unsubscribe) or _is_mailto(unsubscribe)):
            unsubscribe = ""
        for url in [*web_urls, unsubscribe]:
            host = _host_of_url(url) if _is_web_url(url) else None
            if host:
                allowed.add(host)
        facts_raw = brand.get("facts")
        facts = (_str(facts_raw),) if isinstance(facts_raw, str) else tuple(_strings(facts_raw))
        return cls(
            name=name,
            colour=colour,
            signature=_str(brand.get("signature")) or f"The {name} team",
            footer=_str(brand.get("footer")) or name,
            unsubscribe_url=unsubscribe or None,
            cta_url=web_urls[0] if web_urls else None,
            phone=_str(brand.get("phone")) or None,
            allowed_hosts=tuple(sorted(h for h in allowed if h)),
            facts=tuple(f for f in facts if f),
        )


def brand_display_name(brand: Mapping[str, Any]) -> str:
    """The name a tenant mails under: `name`, or `brand_name` (what `seed.add_tenant` writes)."""
    return _one_line(_str(brand.get("name")) or _str(brand.get("brand_name")))


def _str(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value.strip()] if value.strip() else []
    if isinstance(value, Iterable) and not isinstance(value, Mapping):
        return [v.strip() for v in value if isinstance(v, str) and v.strip()]
    return []


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _is_web_url(url: str) -> bool:
    return bool(url) and url.lower().startswith(("https://", "http://")) and bool(_host_of_url(url))


def _is_mailto(url: str) -> bool:
    return url.lower().startswith("mailto:") and "@" in url and not any(c in url for c in "<>\"' ")


def _host_of_domain(domain: str) -> str:
    return domain.strip().lower().rstrip(".").removeprefix("*.")


def _host_of_url(url: str) -> str | None:
    """The host of an absolute URL, or None when it is missing or ambiguous (credentials or
    backslashes in the authority make browsers and parsers disagree about the host)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if "@" in parts.netloc or "\\" in parts.netloc or not parts.hostname:
        return None
    return parts.hostname.lower().rstrip(".")


def host_allowed(host: str | None, allowed_hosts: Iterable[str]) -> bool:
    """True when `host` is one of `allowed_hosts` or a subdomain of one."""
    if not host:
        return False
    host = host.lower().rstrip(".")
    return any(host == a or host.endswith("." + a) for a in allowed_hosts if a)


# --- cleaning the model's text ----------------------------------------------------------------------

# Zero-width and bidirectional-control characters: invisible, and used to hide or reorder text.
_INVISIBLE = re.compile("[\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_LINE_BREAKS = re.compile("\r\n|[\r\u2028\u2029\x85\x0b\x0c]")
# Elements whose content is code or hidden, removed with what they hold.
_HIDDEN_ELEMENT = re.compile(
    r"<(script|style|iframe|object|embed|svg|math|template|noscript|textarea|title|xmp|head)\b"
    r"[^>]*>.*?</\1\s*>",
    re.IGNORECASE | re.DOTALL,
)
_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.DOTALL)
# A tag (browsers only start one at `<` directly followed by a letter, `/`, `!` or `?`), and the
# name of one left unclosed.
_TAG = re.compile(r"</?[a-zA-Z!?][^<>]*>")
_UNCLOSED_TAG = re.compile(r"</?[a-zA-Z!?][^\s<>]*")
_TRAILING = ".,;:!?)]}'\"»"
_LINKISH = re.compile(
    r"""
    (?P<script>(?:javascript|vbscript|livescript)\s*:\S*)
  | (?P<datauri>\b(?:data|file|blob|jar)\s*:(?=\S)[^\s<>"']+)
  | (?P<url>(?:\b(?:https?|ftp)\s*:\s*|(?<![\w/:]))//[^\s<>"']+)
  | (?P<mailto>\bmailto:[^\s<>"']+)
  | (?P<email>[\w.+-]+@[\w-]+(?:\.[\w-]+)+)
  | (?P<www>\bwww\.[^\s<>"']+)
  | (?P<bare>\b(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,24}\b(?:[/?#][^\s<>"']*)?)
    """,
    re.IGNORECASE | re.VERBOSE,
)
# Phone-like: 9 or more digits in one run of digits, spaces, dots, dashes and brackets. Dates
# (2026-11-25) and times are shorter or broken by other characters, so they stay.
_NUMBER_RUN = re.compile(r"(?<![\w+])(?!\d{4}-\d{1,2}-\d{1,2}\b)\+?\(?\d[\d \t().-]{6,}\d(?![\w])")
_MIN_PHONE_DIGITS = 9
_SPACES = re.compile(r"[ \t]+")
_BLANK_LINES = re.compile(r"\n{3,}")


@dataclass(frozen=True)
class LinkPolicy:
    """What may stay in the model's text: links to these hosts, these e-mail addresses, and phone
    numbers ending in these digits (the last nine, so +44 117 … and 0117 … compare equal)."""

    allowed_hosts: tuple[str, ...] = ()
    allowed_emails: tuple[str, ...] = ()
    allowed_numbers: tuple[str, ...] = ()

    @classmethod
    def for_draft(cls, brand: Brand, lead: Mapping[str, Any]) -> LinkPolicy:
        emails = [e.lower() for e in (_str(lead.get("email")),) if e]
        sources = [brand.phone or "", _str(lead.get("phone")), *brand.facts]
        numbers = {
            _digits(m.group(0))[-_MIN_PHONE_DIGITS:]
            for source in sources
            for m in _NUMBER_RUN.finditer(source)
            if len(_digits(m.group(0))) >= _MIN_PHONE_DIGITS
        }
        return cls(brand.allowed_hosts, tuple(emails), tuple(sorted(numbers)))


def _digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


def strip_markup(text: str) -> str:
    """Remove whatever looks like HTML/XML markup, also when it was entity-encoded (`&lt;script&gt;`)
    or nested to survive one pass (`<scr<script>ipt>`)."""
    for _ in range(5):
        before = text
        text = html.unescape(text)
        text = _HIDDEN_ELEMENT.sub(" ", text)
        text = _COMMENT.sub(" ", text)
        text = _TAG.sub(" ", text)
        text = _UNCLOSED_TAG.sub(" ", text)
        if text == before:
            break
    return text


def _split_trailing(token: str) -> tuple[str, str]:
    core = token.rstrip(_TRAILING)
    return core, token[len(core) :]


def _link_allowed(kind: str, token: str, policy: LinkPolicy) -> bool:
    if kind in ("script", "datauri"):
        return False
    if kind == "url":
        url = re.sub(r"^(\w+)\s*:\s*//", r"\1://", token)
        if url.startswith("//"):
            url = "https:" + url
        return host_allowed(_host_of_url(url), policy.allowed_hosts)
    if kind == "mailto":
        addresses = token[len("mailto:") :].split("?", 1)[0].split(",")
        return all(_email_allowed(a, policy) for a in addresses)
    if kind == "email":
        return _email_allowed(token, policy)
    return host_allowed(_host_of_url("http://" + token), policy.allowed_hosts)  # www / bare


def _email_allowed(address: str, policy: LinkPolicy) -> bool:
    address = address.strip().lower()
    if address in policy.allowed_emails:
        return True
    return host_allowed(address.rpartition("@")[2], policy.allowed_hosts)


def remove_foreign_links(text: str, policy: LinkPolicy) -> str:
    """Replace every URL, `javascript:`/`data:` link, e-mail address and domain name whose host is not
    allowed by `policy` with ``[link removed]``."""

    def replace(match: re.Match[str]) -> str:
        kind = match.lastgroup or "bare"
        token, trailing = _split_trailing(match.group(0))
        if kind in ("script", "datauri"):
            token, trailing = match.group(0), ""
        return (token if _link_allowed(kind, token, policy) else LINK_REMOVED) + trailing

    return _LINKISH.sub(replace, text)


def remove_foreign_numbers(text: str, policy: LinkPolicy) -> str:
    """Replace phone-like numbers (9+ digits) that are neither the tenant's nor the lead's."""

    def replace(match: re.Match[str]) -> str:
        digits = _digits(match.group(0))
        if len(digits) < _MIN_PHONE_DIGITS or digits[-_MIN_PHONE_DIGITS:] in policy.allowed_numbers:
            return match.group(0)
        return NUMBER_REMOVED

    return _NUMBER_RUN.sub(replace, text)


def clean_model_text(text: str, policy: LinkPolicy, *, single_line: bool = False) -> str:
    """The model's text made safe to place in a draft (see the module docstring). `single_line`
    joins lines (subjects: a newline in a mail header would start a new header)."""
    text = unicodedata.normalize(
        "NFKC", text
    )  # full-width ＜script＞ and ｊａｖａｓｃｒｉｐｔ become ASCII
    text = _LINE_BREAKS.sub("\n", text)
    text = _INVISIBLE.sub("", text)
    text = _CONTROL.sub("", text)
    text = strip_markup(text)
    text = remove_foreign_links(text, policy)
    text = remove_foreign_numbers(text, policy)
    text = text.replace("<", "‹").replace(
        ">", "›"
    )  # lone brackets left by stripping: keep them inert
    if single_line:
        return _one_line(text)
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


# --- checks that withhold a draft ----------------------------------------------------------------


def _normalise_words(text: str) -> str:
    words = re.findall(r"\w+", unicodedata.normalize("NFKC", text).casefold())
    return " " + " ".join(words) + " "


def mentions_any(text: str, names: Iterable[str]) -> bool:
    """True when `text` contains one of `names` as whole words (case, accents of width and
    punctuation ignored: "Bright-Smiles" matches "bright smiles")."""
    haystack = _normalise_words(text)
    return any(
        needle.strip() and needle in haystack for needle in (_normalise_words(n) for n in names)
    )


def quotes_any(text: str, sources: Iterable[str], run: int = INSTRUCTION_RUN_WORDS) -> bool:
    """True when `text` repeats `run` consecutive words of any of `sources`."""
    words = _normalise_words(text).split()
    if len(words) < run:
        return False
    shingles = {" ".join(words[i : i + run]) for i in range(len(words) - run + 1)}
    for source in sources:
        source_words = _normalise_words(source).split()
        for i in range(len(source_words) - run + 1):
            if " ".join(source_words[i : i + run]) in shingles:
                return True
    return False


# --- rendering -----------------------------------------------------------------------------------


@functools.lru_cache(maxsize=8)
def _environment(templates_dir: str) -> ImmutableSandboxedEnvironment:
    # Autoescaping on for every template except the plain-text ones; on by default, so a new template
    # with an unexpected extension is escaped rather than not. Sandboxed: a tenant's own template can
    # format values but not reach into Python.
    return ImmutableSandboxedEnvironment(
        loader=FileSystemLoader(templates_dir),
        autoescape=select_autoescape(
            enabled_extensions=("html", "html.j2"),
            disabled_extensions=("txt", "txt.j2"),
            default_for_string=True,
            default=True,
        ),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _template_names(tenant_id: str | None, kind: str) -> list[str]:
    names = [f"default.{kind}.j2"]
    if tenant_id and _SLUG.fullmatch(tenant_id):  # a slug cannot climb out of the directory
        names.insert(0, f"{tenant_id}.{kind}.j2")
    return names


def _paragraphs(text: str) -> list[list[str]]:
    return [p.split("\n") for p in text.split("\n\n") if p.strip()]


def first_name(name: str) -> str:
    """The first word of a lead's name, cleaned (names come from web forms: untrusted)."""
    cleaned = _one_line(strip_markup(_INVISIBLE.sub("", _CONTROL.sub("", name))))
    cleaned = cleaned.replace("<", "").replace(">", "")
    word = cleaned.split(" ")[0] if cleaned else ""
    return word[:40]


@dataclass(frozen=True)
class CleanDraft:
    """The model's draft after cleaning, ready for a template."""

    subject: str
    body: str
    call_to_action: str


def clean_draft(
    brand: Brand,
    lead: Mapping[str, Any],
    draft: Mapping[str, Any],
    *,
    foreign_names: Sequence[str] = (),
    private_texts: Sequence[str] = (),
) -> CleanDraft:
    """Clean the model's draft and apply the withholding checks (raises `DraftWithheld`)."""
    policy = LinkPolicy.for_draft(brand, lead)
    subject = clean_model_text(_str_any(draft.get("subject")), policy, single_line=True)
    body = clean_model_text(_str_any(draft.get("body_text")), policy)
    cta = clean_model_text(_str_any(draft.get("call_to_action")), policy, single_line=True)
    if not body.replace(LINK_REMOVED, "").replace(NUMBER_REMOVED, "").strip():
        raise DraftWithheld("draft withheld: the body is empty once unsafe content is removed")
    combined = "\n".join((subject, body, cta))
    # Names of other tenants that are part of this tenant's own name (a shared word like "Dental")
    # would match every draft of this tenant; only names beyond its own count.
    own = _normalise_words(brand.name)
    foreign = [n for n in foreign_names if _normalise_words(n) not in own]
    if mentions_any(combined, foreign):
        raise DraftWithheld("draft withheld: it names another business on the platform")
    if quotes_any(combined, private_texts):
        raise DraftWithheld("draft withheld: it repeats the drafting instructions")
    return CleanDraft(subject=subject or f"A note from {brand.name}", body=body, call_to_action=cta)


def _str_any(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _as_brand(tenant_brand: Brand | Mapping[str, Any]) -> Brand:
    return tenant_brand if isinstance(tenant_brand, Brand) else Brand.from_mapping(tenant_brand)


def render_draft(
    tenant_brand: Brand | Mapping[str, Any],
    lead: Mapping[str, Any],
    draft: Mapping[str, Any],
    *,
    tenant_id: str | None = None,
    templates_dir: Path | str | None = None,
    foreign_names: Sequence[str] = (),
    private_texts: Sequence[str] = (),
) -> tuple[str, str, str]:
    """Render the model's `draft` (subject, body_text, call_to_action) for `lead` (name, email,
    phone) into the tenant's templates: returns `(subject, text, html)`.

    Raises `DraftWithheld` when no safe draft can be made (see the module docstring).
    `foreign_names` are other tenants' names; `private_texts` are texts the draft may not quote
    (the workflow's instructions).
    """
    brand = _as_brand(tenant_brand)
    if not brand.unsubscribe_url:
        raise DraftWithheld("draft withheld: the tenant's brand has no usable unsubscribe link")
    clean = clean_draft(
        brand, lead, draft, foreign_names=foreign_names, private_texts=private_texts
    )
    name = first_name(_str_any(lead.get("name")))
    context = {
        "brand": brand,
        "subject": clean.subject,
        "greeting": f"Hi {name}," if name else "Hello,",
        "body": clean.body,
        "paragraphs": _paragraphs(clean.body),
        "call_to_action": clean.call_to_action,
        "cta_url": brand.cta_url,
        "signature": brand.signature,
        "signature_lines": brand.signature.split("\n"),
        "footer": brand.footer,
        "unsubscribe_url": brand.unsubscribe_url,
    }
    env = _environment(str(templates_dir or TEMPLATES_DIR))
    html_part = env.select_template(_template_names(tenant_id, "html")).render(context)
    text_part = env.select_template(_template_names(tenant_id, "txt")).render(context)
    return clean.subject, text_part.strip() + "\n", html_part


def render_call_script(
    tenant_brand: Brand | Mapping[str, Any],
    lead: Mapping[str, Any],
    draft: Mapping[str, Any],
    *,
    templates_dir: Path | str | None = None,
    foreign_names: Sequence[str] = (),
    private_texts: Sequence[str] = (),
) -> tuple[str, str]:
    """For a lead reachable only by phone: the draft as a plain-text call/SMS script.
    Returns `(script, call_to_action)`; raises `DraftWithheld` like `render_draft`."""
    brand = _as_brand(tenant_brand)
    clean = clean_draft(
        brand, lead, draft, foreign_names=foreign_names, private_texts=private_texts
    )
    env = _environment(str(templates_dir or TEMPLATES_DIR))
    script = env.get_template("call_script.txt.j2").render(
        brand=brand,
        name=first_name(_str_any(lead.get("name"))) or "the lead",
        body=clean.body,
        call_to_action=clean.call_to_action,
    )
    return script.strip() + "\n", clean.call_to_action
