# ruff: noqa: RUF001, RUF002, RUF003
# (look-alike characters are what this module is for)
"""TeX in titles and abstracts, made readable: `$\\alpha$-stable` shows as "α-stable".

arXiv titles and abstracts are TeX source, so a card would otherwise show `$O(n^{2})$` and
`Schr\\"odinger` to a reader. This is a small display-time pass over plain text (the store
keeps what the feed said): the `$` delimiters go, common commands become their Unicode
character, accents combine with their letter, `^{2}` and `_{i}` become super- and subscripts
where Unicode has them, and font commands (`\\mathbf{x}`, `\\emph{x}`) leave their argument.
An unknown command loses only its backslash. Output is plain text, to be escaped where it
is shown like any other feed text; nothing here raises on any input.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

_SYMBOLS = {
    # Greek, lower then upper case (TeX has no command for the Latin-looking capitals)
    "alpha": "α",
    "beta": "β",
    "gamma": "γ",
    "delta": "δ",
    "epsilon": "ϵ",
    "varepsilon": "ε",
    "zeta": "ζ",
    "eta": "η",
    "theta": "θ",
    "vartheta": "ϑ",
    "iota": "ι",
    "kappa": "κ",
    "lambda": "λ",
    "mu": "μ",
    "nu": "ν",
    "xi": "ξ",
    "pi": "π",
    "varpi": "ϖ",
    "rho": "ρ",
    "varrho": "ϱ",
    "sigma": "σ",
    "varsigma": "ς",
    "tau": "τ",
    "upsilon": "υ",
    "phi": "ϕ",
    "varphi": "φ",
    "chi": "χ",
    "psi": "ψ",
    "omega": "ω",
    "Gamma": "Γ",
    "Delta": "Δ",
    "Theta": "Θ",
    "Lambda": "Λ",
    "Xi": "Ξ",
    "Pi": "Π",
    "Sigma": "Σ",
    "Upsilon": "Υ",
    "Phi": "Φ",
    "Psi": "Ψ",
    "Omega": "Ω",
    # relations and operators
    "times": "×",
    "cdot": "·",
    "cdots": "⋯",
    "ldots": "…",
    "dots": "…",
    "pm": "±",
    "mp": "∓",
    "div": "÷",
    "leq": "≤",
    "le": "≤",
    "geq": "≥",
    "ge": "≥",
    "neq": "≠",
    "ne": "≠",
    "ll": "≪",
    "gg": "≫",
    "approx": "≈",
    "sim": "∼",
    "simeq": "≃",
    "equiv": "≡",
    "propto": "∝",
    "infty": "∞",
    "partial": "∂",
    "nabla": "∇",
    "sum": "∑",
    "prod": "∏",
    "int": "∫",
    "sqrt": "√",
    "in": "∈",
    "notin": "∉",
    "subset": "⊂",
    "subseteq": "⊆",
    "cup": "∪",
    "cap": "∩",
    "emptyset": "∅",
    "forall": "∀",
    "exists": "∃",
    "neg": "¬",
    "wedge": "∧",
    "vee": "∨",
    "oplus": "⊕",
    "otimes": "⊗",
    "circ": "∘",
    "star": "⋆",
    "ast": "∗",
    "prime": "′",
    "top": "⊤",
    "perp": "⊥",
    "ell": "ℓ",
    "hbar": "ℏ",
    "langle": "⟨",
    "rangle": "⟩",
    "lvert": "|",
    "rvert": "|",
    "vert": "|",
    "mid": "|",
    "|": "‖",
    "rightarrow": "→",
    "to": "→",
    "leftarrow": "←",
    "gets": "←",
    "leftrightarrow": "↔",
    "Rightarrow": "⇒",
    "Leftarrow": "⇐",
    "Leftrightarrow": "⇔",
    "implies": "⇒",
    "iff": "⇔",
    "mapsto": "↦",
    "uparrow": "↑",
    "downarrow": "↓",
    "degree": "°",
    # text-mode letters and escapes
    "ss": "ß",
    "ae": "æ",
    "AE": "Æ",
    "oe": "œ",
    "OE": "Œ",
    "o": "ø",
    "O": "Ø",
    "aa": "å",
    "AA": "Å",
    "l": "ł",
    "L": "Ł",
    "i": "ı",
    "j": "ȷ",
    "LaTeX": "LaTeX",
    "TeX": "TeX",
    "textendash": "–",
    "textemdash": "—",
    "%": "%",
    "&": "&",
    "#": "#",
    "_": "_",
    "$": "$",
    "\\": " ",
    "{": "{",
    "}": "}",
    # spacing
    ",": " ",
    ";": " ",
    ":": " ",
    " ": " ",
    "quad": " ",
    "qquad": " ",
    "!": "",
    "left": "",
    "right": "",
    "big": "",
    "Big": "",
    "bigl": "",
    "bigr": "",
    "displaystyle": "",
    "limits": "",
    "nolimits": "",
}
# Commands whose one argument is shown as it is: fonts, emphasis, text in maths.
_KEEP_ARGUMENT = frozenset(
    (
        "mathcal",
        "mathbf",
        "mathrm",
        "mathit",
        "mathsf",
        "mathtt",
        "mathbb",
        "mathfrak",
        "mathscr",
        "boldsymbol",
        "bm",
        "textbf",
        "textit",
        "textrm",
        "textsf",
        "texttt",
        "textsc",
        "textup",
        "textnormal",
        "text",
        "mbox",
        "emph",
        "operatorname",
        "underline",
        "mathring",
    )
)
# Combining marks for TeX's accents (\'e, \"{o}, \c{c}, \v s ...), composed by NFC.
_ACCENTS = {
    "'": "\u0301",
    "`": "\u0300",
    "^": "\u0302",
    '"': "\u0308",
    "~": "\u0303",
    "=": "\u0304",
    ".": "\u0307",
    "u": "\u0306",
    "v": "\u030c",
    "H": "\u030b",
    "c": "\u0327",
    "k": "\u0328",
    "r": "\u030a",
}
_SUPERSCRIPT = dict(
    zip(
        "0123456789+-=()nixyabcdefghjklmoprstuvwzTαβγδθφχ′",
        "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ⁿⁱˣʸᵃᵇᶜᵈᵉᶠᵍʰʲᵏˡᵐᵒᵖʳˢᵗᵘᵛʷᶻᵀᵅᵝᵞᵟᶿᵠᵡ′",
        strict=True,
    )
)
_SUPERSCRIPT.update({"*": "*", "⊤": "ᵀ", "∘": "°", "∗": "*"})
_SUBSCRIPT = dict(
    zip(
        "0123456789+-=()aehijklmnoprstuvxβγρφχ",
        "₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎ₐₑₕᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓᵦᵧᵨᵩᵪ",
        strict=True,
    )
)

# Letters TeX spells as commands: a space after them only ends the name ("Stra\ss e").
_TEXT_LETTERS = frozenset(("ss", "ae", "AE", "oe", "OE", "o", "O", "aa", "AA", "l", "L", "i", "j"))
# Accents in maths, over their one-letter argument (\hat{x} is x̂); longer ones lose theirs.
_MATH_ACCENTS = {
    "hat": "\u0302",
    "widehat": "\u0302",
    "tilde": "\u0303",
    "widetilde": "\u0303",
    "bar": "\u0304",
    "overline": "\u0305",
    "dot": "\u0307",
    "ddot": "\u0308",
    "vec": "\u20d7",
}
_BLACKBOARD = dict(zip("RNZQCEP", "ℝℕℤℚℂ𝔼ℙ", strict=True))

# An accent with its letter: \'e, \'{e}, {\'e}, \"{\i}, \c c, \v{s} (outer braces in pairs).
_ACCENT_RE = re.compile(
    r"(?P<open>\{)?\\(?P<mark>['`^\"~=.]|[uvHckr](?=[\s{]))\s*"
    r"(?:\{\s*(?P<braced>\\[ij]|[A-Za-z])\s*\}|(?P<bare>\\[ij](?![A-Za-z])|[A-Za-z]))"
    r"(?(open)\})"
)
_ENDS_IN_COMMAND = re.compile(r"\\[A-Za-z]+\s*\Z")
_COMMAND_RE = re.compile(r"\\(?P<name>[A-Za-z]+|[^A-Za-z\s])(?P<space> ?)")
_KEEP_RE = re.compile(r"\\(?P<name>[A-Za-z]+)\s*\{(?P<arg>[^{}]*)\}")
_OLD_FONT_RE = re.compile(r"\{\\(?:em|it|bf|sl|sc|rm|tt|sf)\s+(?P<arg>[^{}]*)\}")
_FRAC_RE = re.compile(r"\\[dt]?frac\s*\{(?P<num>[^{}]*)\}\s*\{(?P<den>[^{}]*)\}")
_SQRT_RE = re.compile(r"\\sqrt\s*\{(?P<arg>[^{}]*)\}")
_SCRIPT_RE = re.compile(r"(?P<op>[\^_])\s*(?:\{(?P<braced>[^{}]*)\}|(?P<bare>[^\s{}\\]))")
MAX_MATH = 500  # characters of one \(...\), \[...\] or $$...$$: an unclosed one scans no further
# Maths: $...$ (pandoc's rule: no space just inside either $, the closing one not before a
# digit, so "from $5 to $10" stays prose), $$...$$, \(...\) and \[...\].
_MATH_RE = re.compile(
    rf"\$\$(?P<display>[^$]{{1,{MAX_MATH}}}?)\$\$"
    r"|(?<!\$)\$(?P<inline>[^\s$](?:[^$]*?[^\s$])?)\$(?!\d)"
    rf"|\\\((?P<paren>.{{1,{MAX_MATH}}}?)\\\)"
    rf"|\\\[(?P<bracket>.{{1,{MAX_MATH}}}?)\\\]",
    re.DOTALL,
)
# Stand-ins while the pass works (stored text holds no control characters, and any in the
# input are dropped): \$ while maths is found, and a script left as ^(...) or _(...), so the
# next round does not read its parenthesis as a superscript.
_ESCAPED_DOLLAR, _CARET, _UNDERSCORE = "\x00", "\x01", "\x02"
_STAND_INS = dict.fromkeys(map(ord, _ESCAPED_DOLLAR + _CARET + _UNDERSCORE))
_OPERATOR_CHARS = re.compile(r"[\s+\-*/=<>,·×±−]")
_SPACES_RE = re.compile(r"(?<=\S) {2,}")
_ROUNDS = 3  # nesting resolved from the inside out: \mathbf{\hat{x}}, x^{y^{2}}


def tex_to_text(text: str) -> str:
    """The text with its TeX shown as Unicode; text without TeX comes back unchanged."""
    if "\\" not in text and "$" not in text:
        return text
    hidden = text.translate(_STAND_INS).replace("\\$", _ESCAPED_DOLLAR)
    shown = _commands(_MATH_RE.sub(_math, hidden)).replace(_ESCAPED_DOLLAR, "$")
    return _SPACES_RE.sub(" ", shown)


def _math(found: re.Match[str]) -> str:
    body = next(group for group in found.groups() if group is not None)
    body = _repeat(body, lambda b: _FRAC_RE.sub(_fraction, _SQRT_RE.sub(_root, b)))
    body = _commands(body)
    # Scripts after commands, so ^{\top} and _{\alpha} see the characters they stand for.
    body = _repeat(body, lambda b: _SCRIPT_RE.sub(_script, b))
    body = body.replace(_CARET, "^").replace(_UNDERSCORE, "_")
    return body.replace("{", "").replace("}", "")


def _repeat(text: str, step: Callable[[str], str]) -> str:
    for _ in range(_ROUNDS):
        after = step(text)
        if after == text:
            break
        text = after
    return text


def _commands(text: str) -> str:
    """Accents, commands that keep their argument, then every other command."""
    if "\\" not in text:
        return text
    text = _ACCENT_RE.sub(_accent, text)
    text = _OLD_FONT_RE.sub(lambda m: m["arg"], text)
    text = _repeat(text, lambda t: _KEEP_RE.sub(_keep, t))
    return _COMMAND_RE.sub(_symbol, text).replace("{}", "")


def _accent(found: re.Match[str]) -> str:
    letter = found["braced"] or found["bare"] or ""
    letter = {"\\i": "i", "\\j": "j"}.get(letter, letter)
    accented = unicodedata.normalize("NFC", letter + _ACCENTS[found["mark"]])
    if found["open"] and _ENDS_IN_COMMAND.search(
        found.string, max(0, found.start() - 40), found.start()
    ):
        return "{" + accented + "}"  # \textbf{\'e}: those braces are the command's
    return accented


def _keep(found: re.Match[str]) -> str:
    name, arg = found["name"], found["arg"]
    if name in _MATH_ACCENTS:
        letter = arg.strip()
        return (
            unicodedata.normalize("NFC", letter + _MATH_ACCENTS[name]) if len(letter) == 1 else arg
        )
    if name == "mathbb":
        return "".join(_BLACKBOARD.get(char, char) for char in arg)
    if name in _KEEP_ARGUMENT:
        return arg
    return found.group(0)


def _symbol(found: re.Match[str]) -> str:
    name, space = found["name"], found["space"]
    if name in _TEXT_LETTERS:
        return _SYMBOLS[name]
    before = found.string[found.start() - 1 : found.start()]
    if name in _SYMBOLS:
        if not name[0].isalpha():  # \% or \, : a space after it is a space (as in TeX)
            return _SYMBOLS[name] + space
        # "2\times 3" is 2×3 and "A \to B" is A → B: spaced as the writer spaced it
        return _SYMBOLS[name] + ("" if before.isalnum() or before == ")" else space)
    # \log, \max or an unknown command: its name, as a word of its own ("n log n")
    lead = " " if before.isalnum() and name[0].isalpha() else ""
    return lead + name + space


def _root(found: re.Match[str]) -> str:
    return "√" + _grouped(_commands(found["arg"]))


def _fraction(found: re.Match[str]) -> str:
    numerator = _grouped(_commands(found["num"]))
    return numerator + "/" + _grouped(_commands(found["den"]))


def _grouped(text: str) -> str:
    """Parentheses around more than one character: √(n+1), (a+b)/2."""
    text = text.strip()
    return f"({text})" if _OPERATOR_CHARS.search(text) else text


def _script(found: re.Match[str]) -> str:
    content = (found["braced"] if found["braced"] is not None else found["bare"]).strip()
    table = _SUPERSCRIPT if found["op"] == "^" else _SUBSCRIPT
    if content and all(char in table for char in content):
        return "".join(table[char] for char in content)
    op = _CARET if found["op"] == "^" else _UNDERSCORE
    return op + (content if len(content) <= 1 else f"({content})")
