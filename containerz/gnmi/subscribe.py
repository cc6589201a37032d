"""Subscribe: ONCE, POLL and STREAM (SAMPLE, ON_CHANGE and TARGET_DEFINED, as on-change).

Every mode first sends what matches (unless ``updates_only``), then ``sync_response``. A STREAM
then sends a leaf whenever its value changes (or, for SAMPLE, every sample interval) and a
delete when a leaf goes away; a POLL sends everything again for each ``poll`` request.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator

from containerz import errors
from containerz.gnmi.paths import Elems, check_encoding, requested, response_prefix, select, to_path, updates
from containerz.platform import Leaf, Platform
from protos.gnmi.proto.gnmi import gnmi_pb2 as gnmi

_DEFAULT_SAMPLE_NS = 10_000_000_000
_MIN_SAMPLE_NS = 1_000_000_000
# How often on-change subscriptions look for changes nobody announced (e.g. the clock).
_CHANGE_POLL_SECONDS = 1.0

Mode = gnmi.SubscriptionList.Mode


async def first_subscription(requests: AsyncIterator[gnmi.SubscribeRequest]) -> gnmi.SubscriptionList:
    first = await anext(requests, None)
    if first is None or first.WhichOneof("request") != "subscribe":
        raise errors.InvalidArgument("the first SubscribeRequest must carry 'subscribe' (a SubscriptionList)")
    subscriptions = first.subscribe
    check_encoding(subscriptions.encoding)
    if not subscriptions.subscription:
        raise errors.InvalidArgument("the SubscriptionList has no subscription; add at least one path")
    return subscriptions


async def subscribe(
    platform: Platform, subscriptions: gnmi.SubscriptionList, requests: AsyncIterator[gnmi.SubscribeRequest]
) -> AsyncGenerator[gnmi.SubscribeResponse, None]:
    patterns = [requested(subscriptions.prefix, s.path) for s in subscriptions.subscription]
    notify = _Notifier(platform, subscriptions)
    sent: dict[Elems, object] = {}
    if not subscriptions.updates_only:
        for pattern in patterns:
            found = select(platform.leaves(), pattern)
            sent.update(dict(found))
            yield notify.updates(found)
    yield gnmi.SubscribeResponse(sync_response=True)

    if subscriptions.mode == Mode.ONCE:
        return
    if subscriptions.mode == Mode.POLL:
        async for request in requests:
            if request.WhichOneof("request") != "poll":
                raise errors.InvalidArgument("a POLL subscription takes only 'poll' requests after the first")
            for pattern in patterns:
                yield notify.updates(select(platform.leaves(), pattern))
            yield gnmi.SubscribeResponse(sync_response=True)
        return
    async for response in _stream(platform, subscriptions, patterns, notify, sent):
        yield response


async def _stream(
    platform: Platform,
    subscriptions: gnmi.SubscriptionList,
    patterns: list[Elems],
    notify: _Notifier,
    sent: dict[Elems, object],
) -> AsyncGenerator[gnmi.SubscribeResponse, None]:
    sample_ns = [
        max(s.sample_interval or _DEFAULT_SAMPLE_NS, _MIN_SAMPLE_NS) if s.mode == gnmi.SAMPLE else 0
        for s in subscriptions.subscription
    ]
    due = [platform.clock() + interval if interval else 0 for interval in sample_ns]
    while True:
        await platform.changed(within_seconds=_CHANGE_POLL_SECONDS)
        leaves = platform.leaves()
        now = platform.clock()
        for index, pattern in enumerate(patterns):
            found = select(leaves, pattern)
            if sample_ns[index]:
                if now < due[index]:
                    continue
                due[index] = now + sample_ns[index]
                changed = found
            else:
                changed = [(path, value) for path, value in found if sent.get(path) != value]
            gone = [path for path in sent if path not in dict(found) and _under(pattern, path)]
            for path in gone:
                del sent[path]
            if changed or gone:
                sent.update(dict(changed))
                yield notify.updates(changed, deleted=gone)


def _under(pattern: Elems, path: Elems) -> bool:
    return bool(select([(path, None)], pattern))


class _Notifier:
    def __init__(self, platform: Platform, subscriptions: gnmi.SubscriptionList) -> None:
        self._platform = platform
        self._prefix = response_prefix(subscriptions.prefix)
        self._encoding = subscriptions.encoding

    def updates(self, leaves: list[Leaf], deleted: list[Elems] | None = None) -> gnmi.SubscribeResponse:
        return gnmi.SubscribeResponse(
            update=gnmi.Notification(
                timestamp=self._platform.clock(),
                prefix=self._prefix,
                update=updates(leaves, self._encoding),
                delete=[to_path(path) for path in deleted or []],
            )
        )
