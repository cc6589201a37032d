"""Errors that carry the gRPC status code a client should see.

Every layer below the servicers (manager, engine adapter, transfers) raises these, so
the mapping from "what went wrong" to a status code is decided once, where the
failure is understood, and the servicers only translate it onto the wire.
"""

from __future__ import annotations

import grpc


class ContainerzError(Exception):
    """Base class: an error with a gRPC status code and a message that says what to fix."""

    code: grpc.StatusCode = grpc.StatusCode.INTERNAL

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidArgument(ContainerzError):
    code = grpc.StatusCode.INVALID_ARGUMENT


class NotFound(ContainerzError):
    code = grpc.StatusCode.NOT_FOUND


class AlreadyExists(ContainerzError):
    code = grpc.StatusCode.ALREADY_EXISTS


class FailedPrecondition(ContainerzError):
    code = grpc.StatusCode.FAILED_PRECONDITION


class ResourceExhausted(ContainerzError):
    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class Unavailable(ContainerzError):
    code = grpc.StatusCode.UNAVAILABLE


class Unimplemented(ContainerzError):
    code = grpc.StatusCode.UNIMPLEMENTED


class PermissionDenied(ContainerzError):
    code = grpc.StatusCode.PERMISSION_DENIED


class Unknown(ContainerzError):
    code = grpc.StatusCode.UNKNOWN


class Internal(ContainerzError):
    code = grpc.StatusCode.INTERNAL


class EngineUnavailable(Unavailable):
    """The container engine cannot be reached; the server keeps running and retries."""
