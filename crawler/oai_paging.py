"""Follow an OAI-PMH list's resumptionTokens only while the list is going somewhere.

A hostile or broken repository can hand out the same token again, cycle A -> B -> A, or mint
new tokens for pages that list nothing new: a harvester that follows blindly never ends. One
ListPaging watches one pass over a list (ListRecords or ListSets) and says why the next page
must not be asked for: a token seen before in this pass, more pages than completeListSize
allows, or too many pages in a row without a new identifier.

>>> paging = ListPaging()
>>> paging.next_page("A", records=10, new=10, complete_list_size=30), paging.next_page("B", 10, 10, 30)
(None, None)
>>> paging.next_page("A", 10, 0, 30)
"sent the resumptionToken 'A' a second time, after 3 pages (the tokens repeat or cycle)"
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

# Pages allowed per pass: this many times what completeListSize needs at the first page's size, plus slack
# for repositories whose pages shrink (deleted records filtered out, a last short page).
PAGE_FACTOR = 2
PAGE_SLACK = 10
# Pages in a row that list no identifier this pass has not seen: the list is going nowhere.
MAX_PAGES_WITHOUT_NEW = 50
# Characters of a token quoted in a message (a token can be thousands of characters long).
SHOWN_TOKEN = 60


def shown(token: str) -> str:
    """The token for a message, cut to SHOWN_TOKEN characters."""
    return repr(token if len(token) <= SHOWN_TOKEN else token[:SHOWN_TOKEN] + "...")


@dataclass
class ListPaging:
    """One pass over a list: the tokens it handed out and its pages so far."""

    tokens: set[str] = field(default_factory=set)  # resumptionTokens received in this pass
    pages: int = 0  # pages read in this pass
    first_page_records: int | None = None  # records (or sets) on the pass's first page
    pages_without_new: int = 0  # pages in a row, up to the last, that listed nothing new

    def page_cap(self, complete_list_size: int | None) -> int | None:
        """The most pages this pass may read, from completeListSize; None when the repository gives none."""
        if complete_list_size is None:
            return None
        per_page = max(1, self.first_page_records or 0)
        return PAGE_FACTOR * math.ceil(complete_list_size / per_page) + PAGE_SLACK

    def next_page(self, token: str, records: int, new: int, complete_list_size: int | None) -> str | None:
        """Count a page that lists `records` (`new` of them not seen this pass) and hands out `token`:
        why asking for the next page would loop, or None to ask for it."""
        self.pages += 1
        if self.first_page_records is None:
            self.first_page_records = records
        self.pages_without_new = 0 if new else self.pages_without_new + 1
        if token in self.tokens:
            return (f"sent the resumptionToken {shown(token)} a second time, after {self.pages} pages "
                    "(the tokens repeat or cycle)")
        self.tokens.add(token)
        cap = self.page_cap(complete_list_size)
        if cap is not None and self.pages >= cap:
            return (f"still hands out resumptionTokens after {self.pages} pages, although completeListSize "
                    f"{complete_list_size} needs about {math.ceil(complete_list_size / max(1, self.first_page_records))}")
        if self.pages_without_new >= MAX_PAGES_WITHOUT_NEW:
            return f"listed nothing new in {self.pages_without_new} pages in a row"
        return None
