"""The OAI-PMH spider's preamble: Identify -> ListMetadataFormats -> (ListSets), then the list of records.

Identify gives the repository's granularity (the `from` of an incremental harvest is written in it);
ListMetadataFormats must offer oai_dc; with --set, ListSets (paged, bounded by ListPaging) must name
the set. Anything else ends the harvest with one message that names the fix (the spider's _fatal).
"""

from __future__ import annotations

from collections.abc import Iterator

from scrapy.http import Response

from crawler.oai import (
    METADATA_PREFIX,
    NotOaiResponse,
    from_argument,
    parse_formats,
    parse_identify,
    parse_list,
    verb_url,
)
from crawler.oai_paging import ListPaging


class OaiPreamble:
    """The callbacks before ListRecords, mixed into OaiSpider: they use its endpoint, set_spec and previous_date,
    set its granularity and from_, and end with its _list_request (or a fatal row by its _fatal)."""

    def parse_identify(self, response: Response) -> Iterator:
        try:
            identify = parse_identify(response.body)
        except NotOaiResponse as exc:
            yield self._fatal(response, "not_oai", (
                f"{self.endpoint} does not answer OAI-PMH ?verb=Identify ({exc}). Expected the base URL of an OAI-PMH "
                "repository, e.g. https://archive.example/oai; run 'cli.py probe URL' to find it."))
            return
        self.granularity = identify.granularity
        if self.previous_date:
            self.from_ = from_argument(self.previous_date, identify.granularity)
        yield self._request(verb_url(self.endpoint, "ListMetadataFormats"), self.parse_formats)

    def parse_formats(self, response: Response) -> Iterator:
        error, prefixes = parse_formats(response.body)
        if error is not None or METADATA_PREFIX not in prefixes:
            offered = ", ".join(prefixes) or "none"
            detail = f"{error[0]}: {error[1]}" if error else f"it offers {offered}"
            yield self._fatal(response, "cannotDisseminateFormat", (
                f"{self.endpoint} does not offer {METADATA_PREFIX} records ({detail}). "
                "The harvester reads Dublin Core only: ask the archive for oai_dc, or crawl its HTML with a profile."))
            return
        if self.set_spec:
            yield self._request(verb_url(self.endpoint, "ListSets"), self.parse_sets, sets=[])
        else:
            yield self._list_request()

    def parse_sets(self, response: Response) -> Iterator:
        try:
            page = parse_list(response.body)
        except NotOaiResponse as exc:
            yield self._not_oai(response, "ListSets", exc)
            return
        if page.error is not None:
            code, message = page.error
            yield self._fatal(response, code, (
                f"{self.endpoint} cannot list sets ({code}: {message}), so --set {self.set_spec} cannot be "
                "harvested. Harvest the whole repository: leave out --set."))
            return
        sets = response.meta["sets"] + page.sets
        paging = response.meta.get("paging") or ListPaging()
        if self.set_spec in {spec for spec, _ in sets}:
            yield self._list_request()
        elif page.token:
            seen = {spec for spec, _ in response.meta["sets"]}
            fresh = len({spec for spec, _ in page.sets} - seen)
            problem = paging.next_page(page.token, len(page.sets), fresh, page.complete_list_size)
            if problem is not None:
                yield self._endless(response, "ListSets", problem)
                return
            yield self._request(verb_url(self.endpoint, "ListSets", resumptionToken=page.token), self.parse_sets,
                                sets=sets, paging=paging)
        else:
            shown = ", ".join(spec for spec, _ in sets[:20]) + (" ..." if len(sets) > 20 else "")
            yield self._fatal(response, "badArgument", (
                f"{self.endpoint} has no set {self.set_spec!r}: expected one of {shown or 'none'}. Fix --set."))
