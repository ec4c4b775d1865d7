"""The smaller harvest faults of issue 17 item 8, each pinned: database URLs that name the wrong option or
crash, a huge OAI field, a wrong encoding declaration, an error message cut short, JPEG-looking junk,
AtoM's dates, and --oai errors that suggested --start-url."""

from __future__ import annotations

import io

import pytest
from click.testing import CliRunner
from PIL import Image, UnidentifiedImageError

from cli import main
from crawler.oai import parse_list
from crawler.run import CrawlConfig, StartUnreachable, run_crawl
from db.dates import DateEstimate, parse_date
from db.pixels import JPEG_JUNK_LIMIT, open_image
from db.session import make_engine
from tests.hostile import OAI_HEAD, TinyServer

UNREACHABLE_PG = "postgresql+psycopg://u@127.0.0.1:9/x"
DC = 'xmlns:oai_dc="http://www.openarchives.org/OAI/2.0/oai_dc/" xmlns:dc="http://purl.org/dc/elements/1.1/"'


def one_record_page(description: str, declared: str = "UTF-8", token: str = "page2") -> str:
    return (f'<?xml version="1.0" encoding="{declared}"?>{OAI_HEAD.split("?>", 1)[1]}<ListRecords><record><header>'
            "<identifier>oai:x:1</identifier><datestamp>2026-01-01</datestamp></header><metadata>"
            f"<oai_dc:dc {DC}><dc:title>Logroño</dc:title><dc:description>{description}</dc:description>"
            f"</oai_dc:dc></metadata></record><resumptionToken>{token}</resumptionToken></ListRecords></OAI-PMH>")


class CountingReader(io.BytesIO):
    """A file in memory that counts the bytes read from it."""

    bytes_read = 0

    def read(self, size: int | None = -1) -> bytes:
        data = super().read(size)
        self.bytes_read += len(data)
        return data


def test_db_copy_names_the_url_that_cannot_be_reached(tmp_path):
    source = f"sqlite:///{tmp_path / 'a.db'}"
    make_engine(source).dispose()
    result = CliRunner().invoke(main, ["db", "copy", "--from", UNREACHABLE_PG, "--to", f"sqlite:///{tmp_path / 'b.db'}"])
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: Cannot open database {UNREACHABLE_PG}: ")
    assert result.output.rstrip().endswith("Check host, port, user and password in --from.")
    result = CliRunner().invoke(main, ["db", "copy", "--from", source, "--to", UNREACHABLE_PG])
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: Cannot open database {UNREACHABLE_PG}: ")
    assert result.output.rstrip().endswith("Check host, port, user and password in --to.")


def test_a_port_that_is_not_a_number_is_one_line():
    result = CliRunner().invoke(main, ["db", "info", "--db", "postgresql://h:notaport/x"])
    assert result.exit_code == 1
    assert result.output == ("Error: Cannot parse database URL 'postgresql://h:notaport/x': expected e.g. "
                             "sqlite:///data/archive.db or postgresql://user@host:5432/db.\n")


def test_a_huge_field_keeps_its_page_and_token():
    page = parse_list(one_record_page("x" * 12_000_000).encode())
    assert len(page.records[0].dc["description"][0][0]) == 12_000_000 and page.token == "page2"


def test_utf8_declared_as_latin1_is_read_as_utf8_and_real_latin1_still_reads():
    for body in (one_record_page("Nájera", "ISO-8859-1").encode("utf-8"),
                 one_record_page("Nájera", "ISO-8859-1").encode("latin-1")):
        dc = parse_list(body).records[0].dc
        assert (dc["title"][0][0], dc["description"][0][0]) == ("Logroño", "Nájera")


def test_an_error_message_is_read_whole():
    body = (f'{OAI_HEAD}<error code="badArgument">The argument <b>from</b> is not a date: <i>2026-13</i>'
            "&#x85;\u009b2J</error></OAI-PMH>")
    assert parse_list(body.encode()).error == ("badArgument", "The argument from is not a date: 2026-132J")


def test_junk_that_starts_like_a_jpeg_is_refused_without_reading_it_all():
    junk = CountingReader(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 20_000_000)
    with pytest.raises(UnidentifiedImageError, match="starts like a JPEG but holds over 64 KB"):
        open_image(junk, 10**9)
    assert junk.bytes_read < 2 * JPEG_JUNK_LIMIT  # Pillow alone reads all 20 MB, one byte at a time
    padded = io.BytesIO()
    Image.new("RGB", (40, 30)).save(padded, "JPEG")
    data = padded.getvalue()
    # a little padding before a segment, as careless writers leave, still opens
    with open_image(io.BytesIO(data[:20] + b"\x00" * (JPEG_JUNK_LIMIT // 2) + data[20:]), 10**9) as img:
        assert img.size == (40, 30)


@pytest.mark.parametrize(("text", "estimate"), [
    ("hacia 1940 (Creación)", DateEstimate(1940, 1935, 1945, "circa")),
    ("1952 (Producción)", DateEstimate(1952, 1952, 1952, "year")),
    ("1920-1930 (Creation)", DateEstimate(1925, 1920, 1930, "range")),
    ("1940 (hacia)", DateEstimate(None, None, None, "unknown")),  # not an event type: nothing is guessed
])
def test_atom_dates_with_their_event_type(text, estimate):
    assert parse_date(text) == estimate


def test_oai_errors_name_the_oai_option(tmp_path):
    config = CrawlConfig(profile="replica", oai="http://127.0.0.1:9/oai", db_url=f"sqlite:///{tmp_path / 'a.db'}",
                         images_dir=str(tmp_path / "i"), progress=False)
    with pytest.raises(StartUnreachable, match=r"or pass another --oai\.$"):
        run_crawl(config)
    with TinyServer({"/oai": (500, "text/plain", b"down")}) as server:
        config = CrawlConfig(profile="replica", oai=f"{server.base_url}/oai", db_url=f"sqlite:///{tmp_path / 'a.db'}",
                             images_dir=str(tmp_path / "i"), delay=0.0, autothrottle=False, progress=False)
        with pytest.raises(StartUnreachable, match=r"or pass another --oai\.$"):
            run_crawl(config)
