"""bench/review_queue.py on a small seed: every queue figure and the review page are measured with a
floor, the URLs come from the data, and the queue's query budget holds. No speed is asserted."""

from __future__ import annotations

import pytest

from bench import review_queue as queue  # the project's bench/ (pythonpath ".")
from bench import seed

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def test_queue_figures_on_a_small_seed() -> None:
    seed.seed(2_000, verbose=False)
    urls = dict(queue.queue_urls())
    # Taken from the data: the deepest page that exists, the last received days, a real reference.
    assert "queue, page 15" in urls  # 800 open requests: 16 pages of 50
    assert urls["queue, search reference exact"].startswith(queue.BASE + "?q=RR-")
    figures = queue.figures(1)
    assert [f.name for f in figures] == [*urls, "review page (paid request)"]
    for figure in figures:
        assert figure.runs and figure.floor and all(v > 0 for v in figure.runs + figure.floor), figure.name
        assert "Python CPU" in figure.note and "SQL" in figure.note
    pages = {f.name: f.queries[0] for f in figures}
    # At most 8 queries per queue page (+1: the session's save on every request, docs/security.md).
    assert max(n for name, n in pages.items() if name.startswith("queue")) <= 9, pages
    assert pages["review page (paid request)"] <= 20, pages
