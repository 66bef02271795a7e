"""Counters and histograms for code on the event loop, exported through a prometheus-client registry.

prometheus-client's own `Counter` and `Histogram` take a lock on every increment, and a labelled
one looks its child up under another: about 5 microseconds for a counted and timed request,
several percent of a GET. Everything here is recorded on the event loop's thread, so a plain
dictionary keyed by the label values does (a fraction of a microsecond). At scrape time the
families are turned into prometheus-client's metric families, so the exposition is the library's.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator, Sequence

from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.utils import floatToGoString

Labels = tuple[str, ...]


class LoopCounter:
    def __init__(self, name: str, documentation: str, labels: Sequence[str] = ()) -> None:
        self.name, self.documentation, self.labels = name, documentation, list(labels)
        self._values: dict[Labels, float] = {} if labels else {(): 0.0}

    def inc(self, labels: Labels = (), amount: float = 1.0) -> None:
        values = self._values
        values[labels] = values.get(labels, 0.0) + amount

    def value(self, labels: Labels = ()) -> float:
        return self._values.get(labels, 0.0)

    def family(self) -> Metric:
        family = CounterMetricFamily(self.name, self.documentation, labels=self.labels)
        for labels, value in self._values.items():
            family.add_metric(list(labels), value)
        return family


class LoopHistogram:
    def __init__(self, name: str, documentation: str, labels: Sequence[str], buckets: Sequence[float]) -> None:
        self.name, self.documentation, self.labels = name, documentation, list(labels)
        self._bounds = tuple(sorted(buckets))
        self._les = [floatToGoString(b) for b in self._bounds] + ["+Inf"]
        # Per label values: the count of each bucket alone (not cumulative), then +Inf's, then the sum.
        self._series: dict[Labels, list[float]] = {}
        if not labels:
            self._new(())

    def _new(self, labels: Labels) -> list[float]:
        series = self._series[labels] = [0.0] * (len(self._bounds) + 2)
        return series

    def observe(self, value: float, labels: Labels = ()) -> None:
        series = self._series.get(labels) or self._new(labels)
        series[bisect_left(self._bounds, value)] += 1  # the first bound >= value: Prometheus' `le`
        series[-1] += value

    def family(self) -> Metric:
        family = HistogramMetricFamily(self.name, self.documentation, labels=self.labels)
        for labels, series in self._series.items():
            buckets, total = [], 0.0
            for le, count in zip(self._les, series[:-1], strict=True):
                total += count
                buckets.append((le, total))
            family.add_metric(list(labels), buckets, series[-1])
        return family


class Families:
    """A prometheus-client collector of loop-bound families (register it in a registry)."""

    def __init__(self) -> None:
        self._families: list[LoopCounter | LoopHistogram] = []

    def counter(self, name: str, documentation: str, labels: Sequence[str] = ()) -> LoopCounter:
        counter = LoopCounter(name, documentation, labels)
        self._families.append(counter)
        return counter

    def histogram(
        self, name: str, documentation: str, buckets: Sequence[float], labels: Sequence[str] = ()
    ) -> LoopHistogram:
        histogram = LoopHistogram(name, documentation, labels, buckets)
        self._families.append(histogram)
        return histogram

    def collect(self) -> Iterator[Metric]:
        for family in self._families:
            yield family.family()
