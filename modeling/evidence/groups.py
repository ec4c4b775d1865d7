"""The holder and place sources: what the dated records of the same holder (or place) say, shrunk to a prior.

Empirical Bayes on a normal model: a group's mean year is drawn around the archive's mean with
between-group variance tau^2, and its records around the group's mean with within-group variance
sigma^2 (both estimated by moments on the fitted records). A group of n records says
    mean = (n/sigma^2 * group_mean + 1/tau^2 * archive_mean) / (n/sigma^2 + 1/tau^2)
with predictive variance sigma^2 + 1/(n/sigma^2 + 1/tau^2): a holder with 2 records stays near the
archive's mean and says little, one with 200 says what its records say.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from modeling.evidence.base import Estimates

MIN_VARIANCE = 1.0  # years^2: a floor so a group of identical years never claims infinite precision


def group_key(name: str | None) -> str:
    """The key a holder or place is grouped by: case, accents, punctuation and spacing folded ("" = none).

    >>> group_key("  Foto  RUIZ, Toledo. "), group_key(None)
    ('foto ruiz toledo', '')
    """
    folded = unicodedata.normalize("NFKD", name or "").encode("ascii", "ignore").decode().lower()
    return re.sub(r"\s+", " ", re.sub(r"[^\w]+", " ", folded)).strip()


@dataclass(frozen=True)
class GroupStats:
    n: int  # dated records of the group
    mean: float  # their mean year
    first: int  # their earliest year
    last: int  # their latest year
    name: str  # the group's name as first catalogued (for the evidence sentence)


@dataclass(frozen=True)
class GroupPrior:
    groups: dict[str, GroupStats]  # key -> what its dated records say
    archive_mean: float  # mean year of every fitted record
    sigma2: float  # within-group variance of years
    tau2: float  # between-group variance of group means

    @classmethod
    def fit(cls, names: list[str], years: np.ndarray) -> GroupPrior:
        years = np.asarray(years, dtype=float)
        keys = [group_key(n) for n in names]
        by_key: dict[str, list[int]] = {}
        for i, key in enumerate(keys):
            if key:
                by_key.setdefault(key, []).append(i)
        archive_mean = float(years.mean()) if len(years) else 0.0
        total_var = float(years.var()) if len(years) > 1 else MIN_VARIANCE
        groups, within, dof = {}, 0.0, 0
        for key, at in by_key.items():
            ys = years[at]
            groups[key] = GroupStats(len(at), float(ys.mean()), int(ys.min()), int(ys.max()), names[at[0]].strip())
            within += float(((ys - ys.mean()) ** 2).sum())
            dof += len(at) - 1
        sigma2 = max(within / dof, MIN_VARIANCE) if dof else total_var
        if len(groups) > 1:  # moments: the spread of group means minus what within-group noise explains
            means = np.array([g.mean for g in groups.values()])
            sizes = np.array([g.n for g in groups.values()], dtype=float)
            tau2 = float(np.var(means) - np.mean(sigma2 / sizes))
        else:
            tau2 = total_var
        return cls(groups, archive_mean, sigma2, max(tau2, MIN_VARIANCE))

    def estimate(self, names: list[str | None]) -> Estimates:
        """Each name's shrunken mean and predictive variance; a name with no fitted group is absent."""
        n = len(names)
        year, var, present = np.zeros(n), np.ones(n), np.zeros(n, dtype=bool)
        for i, name in enumerate(names):
            stats = self.groups.get(group_key(name))
            if stats is None:
                continue
            precision = stats.n / self.sigma2 + 1.0 / self.tau2
            year[i] = (stats.n / self.sigma2 * stats.mean + self.archive_mean / self.tau2) / precision
            var[i] = self.sigma2 + 1.0 / precision
            present[i] = True
        return Estimates(year, var, present)

    def stats(self, name: str | None) -> GroupStats | None:
        return self.groups.get(group_key(name))

    def save(self, path: Path) -> None:
        path.write_text(json.dumps({"archive_mean": self.archive_mean, "sigma2": self.sigma2, "tau2": self.tau2,
                                    "groups": {k: [g.n, g.mean, g.first, g.last, g.name]
                                               for k, g in self.groups.items()}}, ensure_ascii=False),
                        encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> GroupPrior:
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls({k: GroupStats(int(v[0]), float(v[1]), int(v[2]), int(v[3]), str(v[4]))
                    for k, v in data["groups"].items()}, float(data["archive_mean"]), float(data["sigma2"]),
                   float(data["tau2"]))
