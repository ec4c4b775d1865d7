"""Where a harvest may fetch from: the archive's own hosts, never an internal address it points at.

A record's image link, a IIIF manifest's service id or a listing's record link is text the
archive wrote: followed blindly it makes the crawler ask other services on the harvesting
machine or its network (server-side request forgery). `FetchGuard.refusal(url)` says why a
URL must not be fetched, or None when it may be:

- only http(s) URLs (Scrapy would also read file:// and s3:// ones);
- only the endpoint's (or start URLs') hosts, their subdomains and the profile's `image_hosts`;
- never a loopback, link-local, private or otherwise reserved address, unless it is the
  endpoint's own address and port (the replica on 127.0.0.1, also named localhost) or the profile sets
  `allow_private_addresses = true` (an archive on an intranet).

Host names are resolved once each (socket.getaddrinfo), so a public-looking name that points
inside is refused too; a name that does not resolve is left to the download to fail.

>>> guard = FetchGuard.for_endpoints(["http://127.0.0.1:8000/oai"])
>>> guard.refusal("http://127.0.0.1:8000/a.jpg") is None, guard.refusal("http://127.0.0.1:9000/a.jpg")[0]
(True, 'refused_address')
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass, field
from urllib.parse import urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin(url: str) -> tuple[str, int] | None:
    parts = urlsplit(url)
    try:
        port = parts.port or DEFAULT_PORTS.get(parts.scheme)
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    return (host, port) if host and port else None


def _on(host: str, hosts: tuple[str, ...]) -> bool:
    host = host.removeprefix("www.")
    return any(host == h or host.endswith("." + h) for h in hosts)


def is_internal(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Loopback, link-local, private, reserved, multicast or unspecified: not the open internet."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return (address.is_loopback or address.is_link_local or address.is_private or address.is_reserved
            or address.is_multicast or address.is_unspecified or not address.is_global)


def literal_addresses(host: str) -> tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, ...]:
    """The host's address without asking DNS: itself when it is one, 127.0.0.1 for localhost, else none."""
    try:
        return (ipaddress.ip_address(host.strip("[]")),)
    except ValueError:
        pass
    if host == "localhost" or host.endswith(".localhost"):
        return (ipaddress.ip_address("127.0.0.1"),)
    return ()


def addresses_of(host: str) -> tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, ...]:
    """The host's IP addresses: itself when it is one, else what it resolves to (empty when it does not)."""
    literal = literal_addresses(host)
    if literal:
        return literal
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return ()
    return tuple(dict.fromkeys(ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos))


@dataclass(frozen=True)
class FetchGuard:
    hosts: tuple[str, ...]  # host names a fetch may go to (each with its subdomains), lower case, no "www."
    endpoint_origins: tuple[tuple[str, int], ...]  # (host, port) of the endpoint / start URLs: always allowed
    allow_private: bool = False  # the profile's allow_private_addresses: internal addresses on `hosts` are fine
    _resolved: dict = field(default_factory=dict, compare=False, repr=False)  # host -> addresses, resolved once

    @classmethod
    def for_endpoints(cls, endpoints, image_hosts=(), allow_private: bool = False) -> FetchGuard:
        """The guard for a crawl of `endpoints` (OAI base URL or start URLs) with a profile's image_hosts."""
        origins = tuple(dict.fromkeys(o for o in (_origin(u) for u in endpoints) if o is not None))
        hosts = [host for host, _ in origins] + [h.lower() for h in image_hosts]
        return cls(hosts=tuple(dict.fromkeys(h.removeprefix("www.") for h in hosts if h)),
                   endpoint_origins=origins, allow_private=allow_private)

    @classmethod
    def for_spider(cls, spider) -> FetchGuard:
        """The guard for a running spider: its OAI endpoint, else its start URLs, and its profile."""
        endpoint = getattr(spider, "endpoint", None)
        endpoints = [endpoint] if endpoint else list(getattr(spider, "start_urls", ()))
        profile = spider.profile
        return cls.for_endpoints(endpoints, profile.image_hosts, profile.allow_private_addresses)

    def _addresses(self, host: str):
        if host not in self._resolved:
            self._resolved[host] = addresses_of(host)
        return self._resolved[host]

    def refusal(self, url: str) -> tuple[str, str] | None:
        """(reason, detail) why `url` must not be fetched, or None when it may be."""
        parts = urlsplit(url)
        if parts.scheme not in DEFAULT_PORTS:
            return "refused_scheme", f"{url} is not an http(s) URL; not fetched"
        origin = _origin(url)
        if origin is None:
            return "refused_address", f"{url} has no valid host and port; not fetched"
        if origin in self.endpoint_origins:
            return None
        host = origin[0]
        endpoint_sockets = {(a, p) for h, p in self.endpoint_origins for a in self._addresses(h)}
        if not _on(host, self.hosts):
            addresses = literal_addresses(host)  # no DNS lookups for hosts the archive merely names
            if addresses and all(is_internal(a) and (a, origin[1]) in endpoint_sockets for a in addresses):
                return None  # the endpoint's own internal socket by another name (localhost for 127.0.0.1)
            return "offsite_host", (
                f"{url} is off the archive's hosts ({', '.join(self.hosts)}); not fetched. "
                "If that host is the archive's, add it to image_hosts in the profile")
        if self.allow_private:
            return None
        internal = [str(a) for a in self._addresses(host) if is_internal(a) and (a, origin[1]) not in endpoint_sockets]
        if internal:
            return "refused_address", (
                f"{url} points at an internal address ({', '.join(internal)}) other than the archive's "
                f"{', '.join(f'{h}:{p}' for h, p in self.endpoint_origins)}; not fetched. If the archive really "
                "serves from there, set allow_private_addresses = true in the profile")
        return None
