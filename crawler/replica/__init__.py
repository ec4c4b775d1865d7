"""A local replica of the "La Rioja en la memoria" photo archive, for tests, benchmarks and the demo.

It generates a deterministic archive (records with messy Spanish catalogue text, era-cued
synthetic photographs, duplicates and injected faults, all with known ground truth) and serves
it over HTTP on loopback. The crawler never imports this package; it only sees the HTML.

>>> from crawler.replica import ReplicaServer, build_archive
>>> with ReplicaServer(build_archive(30, seed=0)) as server:
...     server.base_url.startswith("http://127.0.0.1:")
True
"""

from crawler.replica.archive import FAULTS, ReplicaArchive, ReplicaRecord, build_archive
from crawler.replica.photos import render_photo
from crawler.replica.serve import ReplicaConfig, serve_replica
from crawler.replica.server import NonLoopbackHost, ReplicaServer

__all__ = [
    "FAULTS",
    "NonLoopbackHost",
    "ReplicaArchive",
    "ReplicaConfig",
    "ReplicaRecord",
    "ReplicaServer",
    "build_archive",
    "render_photo",
    "serve_replica",
]
