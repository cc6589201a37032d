"""Run blocking iterators (Docker log streams, pulls, HTTP downloads) without blocking the event loop.

The Docker SDK and ``requests`` are synchronous. A long-lived stream would hold one
thread for its whole life, so streams get their own executor, and the consumer gets
back-pressure (the thread pauses when the consumer is slow) and cancellation (the
underlying response is closed so a blocked read returns at once).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncGenerator, Callable, Iterator
from concurrent.futures import Executor
from typing import Any, TypeVar

T = TypeVar("T")

_END = object()
_QUEUE_DEPTH = 32


async def iterate_in_thread(
    executor: Executor,
    open_stream: Callable[[], Iterator[T]],
    close_stream: Callable[[Iterator[T]], None] | None = None,
) -> AsyncGenerator[T, None]:
    """Yield the items of ``open_stream()`` (which runs in ``executor``) as they arrive.

    ``close_stream`` is called from the event loop when the consumer stops early, to
    unblock a thread that is waiting inside the iterator (e.g. shutting a socket).
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[Any, BaseException | None]] = asyncio.Queue()
    credits = threading.Semaphore(_QUEUE_DEPTH)
    stopped = threading.Event()
    opened: list[Iterator[T]] = []

    def deliver(item: Any, error: BaseException | None = None) -> None:
        try:
            loop.call_soon_threadsafe(queue.put_nowait, (item, error))
        except RuntimeError:  # the loop is closed: nobody is listening any more
            stopped.set()

    def pump() -> None:
        try:
            stream = open_stream()
            opened.append(stream)
            for item in stream:
                while not credits.acquire(timeout=0.5):
                    if stopped.is_set():
                        return
                if stopped.is_set():
                    return
                deliver(item)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            if not stopped.is_set():
                deliver(_END, exc)
        else:
            deliver(_END)

    pumping = loop.run_in_executor(executor, pump)
    try:
        while True:
            item, error = await queue.get()
            if item is _END:
                if error is not None:
                    raise error
                return
            credits.release()
            yield item
    finally:
        stopped.set()
        if opened and close_stream is not None and not pumping.done():
            close_stream(opened[0])
