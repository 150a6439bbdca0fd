"""pipeline.render.tex: TeX in titles and abstracts shown as readable Unicode."""

# ruff: noqa: RUF001
# (the expected strings are Greek letters and maths symbols on purpose)

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.render.tex import tex_to_text


@pytest.mark.parametrize(
    ("tex", "shown"),
    [
        # maths delimiters go, Greek and symbols become characters
        (r"$\alpha$-stable processes", "α-stable processes"),
        (r"$\Gamma$ and $\Omega$", "Γ and Ω"),
        (r"a $3\times$ speed-up", "a 3× speed-up"),
        (r"$\epsilon \leq 0.1$, $n \geq 2$, $x \approx y$", "ϵ ≤ 0.1, n ≥ 2, x ≈ y"),
        (r"$\infty$-width nets", "∞-width nets"),
        (r"accuracy $\pm 1$", "accuracy ± 1"),
        (r"$A \rightarrow B$ and $a \to b$", "A → B and a → b"),
        (r"$a \cdot b$", "a · b"),
        (r"$a\cdot b$", "a·b"),
        (r"\(x \in X\) and \[\sum_i x_i\]", "x ∈ X and ∑ᵢ xᵢ"),
        (r"$$\nabla f$$", "∇ f"),
        # super- and subscripts where Unicode has them, readable where it does not
        (r"$O(n^{2})$ time", "O(n²) time"),
        (r"$O(n^2)$ and $10^{-3}$", "O(n²) and 10⁻³"),
        (r"$x_{t-1}$ and $W^\top$", "xₜ₋₁ and Wᵀ"),
        (r"$x_{\text{max}}$", "xₘₐₓ"),
        (r"$T_c$", "T_c"),
        (r"$x^{\mathcal{B}}$", "x^B"),
        (r"$e^{i\pi}$", "e^(iπ)"),
        (r"$x^{ab\Omega}$", "x^(abΩ)"),
        # fonts and emphasis leave their argument
        (r"$\mathcal{O}(n \log n)$", "O(n log n)"),
        (r"$\mathbf{x}_i$", "xᵢ"),
        (r"\textit{In vivo} and \emph{in vitro}", "In vivo and in vitro"),
        (r"{\em old} {\bf style}", "old style"),
        (r"$\mathbb{R}^d$", "ℝᵈ"),
        (r"$\hat{x}$ and $\bar{y}$", "x̂ and ȳ"),
        (r"$\frac{1}{\sqrt{n}}$ and $\frac{n+1}{2}$", "1/√n and (n+1)/2"),
        # accents, in every spelling
        (r"Schr\"odinger", "Schrödinger"),
        (r"Erd\H{o}s--R\'enyi graphs", "Erdős--Rényi graphs"),
        (r"{\'e}cole, \c{c}a, \v{S}ediv\'y", "école, ça, Šedivý"),
        (r"Ren{\'e} \textbf{\'et\'e}", "René été"),
        (r"\'{\i}ndice, Stra\ss e, \O ystein", "índice, Straße, Øystein"),
        # escapes, and dollars that are prices
        (r"costs \$5 and 20\% more", "costs $5 and 20% more"),
        ("from $5 to $10", "from $5 to $10"),
        ("$", "$"),
        # unknown commands lose only their backslash
        (r"the \foo{bar} method", "the foo{bar} method"),
        (r"$n\weird m$", "n weird m"),
        # no TeX: the very same string
        ("Attention is all you need", "Attention is all you need"),
        ("x < y & z_1 ^ 2", "x < y & z_1 ^ 2"),
    ],
)
def test_tex_to_text(tex: str, shown: str) -> None:
    assert tex_to_text(tex) == shown


def test_text_without_tex_is_returned_as_is() -> None:
    text = "Snake_case names and 2^10 items are not maths"
    assert tex_to_text(text) is text


def test_html_looking_text_stays_text_for_the_escaper() -> None:
    """The pass runs on plain text before escaping: it neither adds nor removes markup."""
    assert tex_to_text(r"$a<b$ \textbf{<script>}") == "a<b <script>"


@pytest.mark.parametrize(
    "hostile",
    [
        "$$a " * 2000,
        "\\(" * 2000,
        "{\\'e}" * 2000,
        "\\textbf{" * 2000,
        "$x^" + "{" * 2000 + "$",
        "\\frac{" * 2000,
        "\\" * 4001,
        "\x00$\\alpha\x00$",
    ],
)
def test_hostile_input_gives_text(hostile: str) -> None:
    shown = tex_to_text(hostile)
    assert isinstance(shown, str) and "\x00" not in shown


ALPHABET = "ab $\\{}^_'\"`~=.,;!()x\x00\x01\x02ei1vcHalphfrac"


@settings(max_examples=300)
@given(st.text(alphabet=st.sampled_from(ALPHABET), max_size=80))
def test_any_text_gives_text_and_no_stand_in_leaks(text: str) -> None:
    shown = tex_to_text(text)
    if "\\" in text or "$" in text:  # else it is returned as it is
        assert not {"\x00", "\x01", "\x02"} & set(shown)
