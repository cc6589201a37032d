"""What every RPC shares: status codes from :mod:`containerz.errors`, and one structured log line."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import aclosing
from typing import Any, TypeVar

import grpc
import structlog
from google.protobuf import text_format
from google.protobuf.message import Message

from containerz import errors
from state import Fenced, NotActive, NotStandby

log = structlog.get_logger("containerz.rpc")
R = TypeVar("R")

_SUMMARY_LIMIT = 400


def summarize(request: Message) -> str:
    """A one-line, bounded rendering of a request, for logs (never image bytes)."""
    text = text_format.MessageToString(request, as_one_line=True, use_short_repeated_primitives=True)
    return text if len(text) <= _SUMMARY_LIMIT else text[:_SUMMARY_LIMIT] + "..."


class RpcLog:
    """Times one RPC and logs its outcome: who, what, result, duration."""

    def __init__(
        self, rpc: str, context: grpc.aio.ServicerContext, mutating: bool, request: str | Callable[[], str]
    ) -> None:
        self._rpc = rpc
        self._peer = context.peer()
        self._mutating = mutating
        self._request = request
        self._started = time.monotonic()

    def done(self, code: grpc.StatusCode, message: str = "", **fields: Any) -> None:
        duration_ms = round((time.monotonic() - self._started) * 1000, 1)
        level = "info" if self._mutating or code is not grpc.StatusCode.OK else "debug"
        if code is grpc.StatusCode.INTERNAL or code is grpc.StatusCode.UNKNOWN:
            level = "error"
        getattr(log, level)(
            "rpc",
            rpc=self._rpc,
            peer=self._peer,
            request=self._request if isinstance(self._request, str) else self._request(),
            code=code.name,
            error=message or None,
            duration_ms=duration_ms,
            **fields,
        )


def _as_status(exc: Exception) -> tuple[grpc.StatusCode, str]:
    if isinstance(exc, errors.ContainerzError):
        return exc.code, exc.message
    if isinstance(exc, NotActive | Fenced):
        return grpc.StatusCode.UNAVAILABLE, str(exc)
    if isinstance(exc, NotStandby):
        return grpc.StatusCode.FAILED_PRECONDITION, str(exc)
    log.exception("rpc.unexpected_error")
    return grpc.StatusCode.INTERNAL, f"internal error: {type(exc).__name__}: {exc}"


async def unary(
    rpc: str, request: Message, context: grpc.aio.ServicerContext, handler: Awaitable[R], mutating: bool
) -> R:
    record = RpcLog(rpc, context, mutating, summarize(request))
    try:
        response = await handler
    except asyncio.CancelledError:
        record.done(grpc.StatusCode.CANCELLED, "client went away")
        raise
    except Exception as exc:
        code, message = _as_status(exc)
        record.done(code, message)
        await context.abort(code, message)
        raise  # abort() raises; this keeps type checkers and readers certain
    record.done(grpc.StatusCode.OK)
    return response


async def relay(
    rpc: str,
    summary: str | Callable[[], str],
    context: grpc.aio.ServicerContext,
    responses: AsyncGenerator[Message, None],
    mutating: bool,
) -> None:
    """Write ``responses`` to the client, then close them, whatever happens (a cancelled
    client included), so whatever they hold (an upload, a log stream) is released at once.

    ``summary`` may be a callable when the request is known only later (Deploy).
    """
    record = RpcLog(rpc, context, mutating, summary)
    sent = 0
    try:
        async with aclosing(responses) as stream:
            async for response in stream:
                sent += 1
                await context.write(response)
    except asyncio.CancelledError:
        record.done(grpc.StatusCode.CANCELLED, "client went away", responses=sent)
        raise
    except Exception as exc:
        code, message = _as_status(exc)
        record.done(code, message, responses=sent)
        await context.abort(code, message)
        raise
    record.done(grpc.StatusCode.OK, responses=sent)
