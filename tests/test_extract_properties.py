"""Property-based tests of the label extractor (hypothesis): random HTML never makes it raise.

test_extract.py pins what each markup yields on saved pages; these feed it arbitrary text and
random trees of the tags it reads (dl/dt/dd, tables, li/p with strong/b), with the profile's
labels sprinkled in, and check the answer's shape, plus one value against a tree built here.
"""

from __future__ import annotations

from html import escape

from hypothesis import example, given, settings
from hypothesis import strategies as st

from crawler.extract import clean_text, extract_fields, extract_image_url, extract_links, normalize_label
from crawler.profile import load_profile

FAST = settings(max_examples=200, deadline=None)
REPLICA = load_profile("replica")
BASE = "http://127.0.0.1:8000/foto/LRM-000001"
TAGS = ("dl", "dt", "dd", "table", "tr", "th", "td", "ul", "li", "p", "strong", "b", "br", "div", "span", "script",
        "figure", "img", "a", "!--")

WORDS = st.one_of(st.sampled_from([*REPLICA.labels, "Título:", "AÑO", ":", "&nbsp;", "&amp;", "<", ">"]), st.text(max_size=12))


def _element(tag: str, children: list[str], attrs: str) -> str:
    if tag == "!--":
        return "<!--" + "".join(children) + "-->"
    if tag in ("br", "img"):
        return f"<{tag}{attrs}>"
    return f"<{tag}{attrs}>{''.join(children)}</{tag}>"


ATTRS = st.sampled_from(["", ' class="ficha-detalle"', ' id="foto-principal" src="/media/x.jpg"',
                         ' href="/foto/LRM-1" class="ficha"', ' rel="next" href="?pagina=2"', ' src="javascript:x"'])
HTML_TREES = st.recursive(
    WORDS,
    lambda children: st.builds(_element, st.sampled_from(TAGS), st.lists(children, max_size=5), ATTRS),
    max_leaves=40,
)


def check_extraction(html: str) -> None:
    extraction = extract_fields(html, REPLICA.labels, REPLICA.fields_container)
    wanted = set(REPLICA.labels.values())
    assert set(extraction.fields) <= wanted
    assert set(extraction.fields) | set(extraction.missing) == wanted
    assert not set(extraction.fields) & set(extraction.missing)
    assert all(value and value == clean_text(value) for value in extraction.fields.values())
    known = {normalize_label(label) for label in REPLICA.labels}
    assert not [label for label in extraction.unmapped if normalize_label(label) in known]
    whole_page = extract_fields(html, REPLICA.labels)
    assert set(whole_page.fields) | set(whole_page.missing) == wanted
    for url in extract_links(html, REPLICA.record_links, BASE):
        assert isinstance(url, str) and url
    image = extract_image_url(html, REPLICA.image, BASE)
    assert image is None or isinstance(image, str)


@FAST
@given(st.text(max_size=200))
@example("\x00<dl><dt>Título</dt><dd>\x0b</dd></dl>")
@example("<dl><dt>Título</dt><dd>" + "<b>" * 5000 + "deep" + "</b>" * 5000 + "</dd></dl>")
def test_any_text_extracts_without_raising(html):
    check_extraction(html)


@FAST
@given(st.lists(HTML_TREES, max_size=4).map("".join))
def test_random_trees_of_the_tags_it_reads_extract_without_raising(html):
    check_extraction(html)
    check_extraction(f'<html><body><div class="ficha-detalle">{html}</div></body></html>')


# Printable text and whitespace; no ":" (a colon after the label, <strong>Título</strong>: value, is the label's).
VALUES = st.text(st.one_of(st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters=":"),
                           st.sampled_from(" \t\n\xa0")), min_size=1, max_size=30)


@FAST
@given(VALUES, st.sampled_from(["dl", "table", "li"]))
def test_a_labelled_value_comes_back_with_its_whitespace_collapsed(value, markup):
    shown = escape(value)
    pair = {
        "dl": f"<dl><dt>Título</dt><dd>{shown}</dd></dl>",
        "table": f"<table><tr><th>Título</th><td>{shown}</td></tr></table>",
        "li": f"<ul><li><strong>Título:</strong> {shown}</li></ul>",
    }[markup]
    fields = extract_fields(f'<div class="ficha-detalle">{pair}</div>', REPLICA.labels, REPLICA.fields_container).fields
    # What a browser shows: the value with runs of whitespace as one space, none at the ends.
    assert fields.get("title") == (" ".join(value.split()) or None)
