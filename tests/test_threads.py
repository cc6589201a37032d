"""The bridge from blocking iterators to async: order, errors, back-pressure, cancellation."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from containerz.threads import iterate_in_thread


@pytest.fixture
def executor() -> Iterator[ThreadPoolExecutor]:
    pool = ThreadPoolExecutor(max_workers=2)
    yield pool
    pool.shutdown(wait=True)


async def test_items_arrive_in_order(executor: ThreadPoolExecutor) -> None:
    received = [item async for item in iterate_in_thread(executor, lambda: iter(range(100)))]
    assert received == list(range(100))


async def test_errors_reach_the_consumer(executor: ThreadPoolExecutor) -> None:
    def failing() -> Iterator[int]:
        yield 1
        raise ValueError("boom")

    received = []
    with pytest.raises(ValueError, match="boom"):
        async for item in iterate_in_thread(executor, failing):
            received.append(item)
    assert received == [1]


async def test_a_slow_consumer_pauses_the_producer(executor: ThreadPoolExecutor) -> None:
    produced = 0

    def endless() -> Iterator[int]:
        nonlocal produced
        while True:
            produced += 1
            yield produced

    stream = iterate_in_thread(executor, endless)
    await anext(stream)
    await asyncio.sleep(0.3)
    assert produced < 100  # bounded by the queue depth, not running away
    await stream.aclose()


async def test_stopping_early_closes_a_blocked_stream(executor: ThreadPoolExecutor) -> None:
    release = threading.Event()
    closed = threading.Event()

    def blocking() -> Iterator[int]:
        yield 1
        release.wait(timeout=10)  # a read with nothing to read

    def close(_stream: Iterator[int]) -> None:
        closed.set()
        release.set()

    stream = iterate_in_thread(executor, blocking, close)
    assert await anext(stream) == 1
    await stream.aclose()
    assert closed.is_set()
