"""Site profiles: what the shipped ones require, and the [oai] and listing settings' checks."""

from __future__ import annotations

import pytest

from crawler.profile import ProfileInvalid, load_profile


def test_larioja_requires_what_the_archive_shows_and_not_a_description():
    profile = load_profile("larioja")
    assert set(profile.required) == {"source_id", "title", "holder", "date_raw", "place", "year", "image_url"}
    assert profile.oai_holder == ("rights",) and profile.listing_links is None


def test_replica_profiles_agree_on_source_and_labels():
    flat, nested = load_profile("replica"), load_profile("replica-lugares")
    assert flat.source == nested.source and flat.labels == nested.labels
    assert nested.listing_links and nested.max_listing_depth == 2
    assert flat.oai_identifier_prefix == "oai:replica.larioja:"
    # the replica names a studio in dc:creator and a donor in dc:contributor; most records have no description
    assert flat.oai_holder == ("creator", "contributor")
    assert flat.required == nested.required and "description" not in flat.required


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('max_listing_depth = -1\n', "max_listing_depth = -1: expected a whole number >= 0."),
        ('[oai]\nholder = "subject"\n', "[oai] holder = 'subject': expected one of rights, publisher, creator, contributor"),
        ('[oai]\nholder = ["creator", "subject"]\n', "[oai] holder = ['creator', 'subject']: expected one of rights"),
        ('[oai]\nholder = []\n', "[oai] holder = []: expected one of rights"),
    ],
)
def test_bad_settings_are_named(tmp_path, extra, message):
    text = (
        'source = "x"\nstart_urls = ["/a"]\n' + (extra if not extra.startswith("[") else "")
        + '[selectors]\nrecord_links = "a"\nnext_page = "a"\nimage = "img"\n[labels]\n"Id" = "source_id"\n'
        + (extra if extra.startswith("[") else "")
    )
    path = tmp_path / "p.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ProfileInvalid, match=message.replace("[", r"\[").replace("(", r"\(")):
        load_profile(str(path))
