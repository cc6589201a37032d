"""gNMI on a single control processor: Get and Subscribe (ONCE, POLL, STREAM) for /components and
/system/state, through pygnmi and through generated stubs."""

from __future__ import annotations

import datetime
import json
import queue
import threading
import time
from collections.abc import Iterator

import grpc
import pytest

from containerz.gnmi.paths import elems_of, matches
from protos.gnmi.proto.gnmi import gnmi_pb2 as gnmi
from protos.gnmi.proto.gnmi import gnmi_pb2_grpc
from tests.support.client import code_of, pygnmi
from tests.support.server import ServerProcess

STATE_LEAVES = {"name", "type", "redundant-role", "switchover-ready", "oper-status", "software-version", "boot-time"}


@pytest.fixture(scope="module")
def gnmi_stub(channel: grpc.Channel) -> gnmi_pb2_grpc.gNMIStub:
    return gnmi_pb2_grpc.gNMIStub(channel)


def path(text: str, origin: str = "openconfig") -> gnmi.Path:
    """``/a/b[k=v]/c`` as a gNMI path."""
    elems = []
    for part in text.strip("/").split("/"):
        name, _, keys = part.partition("[")
        key = dict(pair.split("=", 1) for pair in keys.rstrip("]").split("][")) if keys else {}
        elems.append(gnmi.PathElem(name=name, key=key))
    return gnmi.Path(origin=origin, elem=elems)


def rendered(p: gnmi.Path) -> str:
    return "/" + "/".join(e.name + "".join(f"[{k}={v}]" for k, v in sorted(e.key.items())) for e in p.elem)


def test_get_system_state_as_json_ietf(server: ServerProcess) -> None:
    reply = pygnmi(server.address, "get", "/system/state")
    (notification,) = reply["notification"]
    values = {u["path"].rsplit("/", 1)[-1]: u["val"] for u in notification["update"]}
    assert set(values) == {"current-datetime", "boot-time", "up-time", "software-version"}
    now = datetime.datetime.fromisoformat(values["current-datetime"])
    assert now.tzinfo is not None
    assert abs((datetime.datetime.now(datetime.UTC) - now).total_seconds()) < 5
    assert len(str(values["boot-time"])) == 19
    assert int(values["up-time"]) > 0
    assert values["software-version"]
    assert len(str(notification["timestamp"])) == 19


def test_get_with_wildcard_keys_finds_the_primary(server: ServerProcess) -> None:
    reply = pygnmi(server.address, "get", "/components/component[name=*]/state/redundant-role")
    (update,) = reply["notification"][0]["update"]
    assert update == {"path": "components/component[name=Supervisor1]/state/redundant-role", "val": "PRIMARY"}


@pytest.mark.parametrize(
    ("request_", "code"),
    [
        (gnmi.GetRequest(path=[path("/interfaces")], encoding=gnmi.JSON_IETF), grpc.StatusCode.NOT_FOUND),
        (gnmi.GetRequest(path=[path("/system", origin="rfc7951")], encoding=gnmi.JSON_IETF), grpc.StatusCode.NOT_FOUND),
        (gnmi.GetRequest(path=[path("/system")], encoding=gnmi.ASCII), grpc.StatusCode.UNIMPLEMENTED),
    ],
)
def test_bad_gets_say_what_is_wrong(
    gnmi_stub: gnmi_pb2_grpc.gNMIStub, request_: gnmi.GetRequest, code: grpc.StatusCode
) -> None:
    assert code_of(lambda: gnmi_stub.Get(request_)) is code


def once(stub: gnmi_pb2_grpc.gNMIStub, subscriptions: gnmi.SubscriptionList) -> list[gnmi.SubscribeResponse]:
    subscriptions.mode = gnmi.SubscriptionList.ONCE
    return list(stub.Subscribe(iter([gnmi.SubscribeRequest(subscribe=subscriptions)]), timeout=10))


def test_subscribe_once_expands_wildcards_one_update_per_leaf_then_syncs(gnmi_stub: gnmi_pb2_grpc.gNMIStub) -> None:
    responses = once(
        gnmi_stub,
        gnmi.SubscriptionList(
            prefix=gnmi.Path(origin="openconfig", target="dut"),
            subscription=[
                gnmi.Subscription(
                    path=gnmi.Path(
                        elem=[gnmi.PathElem(name="components"), gnmi.PathElem(name="component", key={"name": "*"})]
                    )
                )
            ],
            encoding=gnmi.PROTO,
        ),
    )
    assert responses[-1].sync_response is True
    notifications = [r.update for r in responses[:-1]]
    assert all(n.prefix.target == "dut" and n.prefix.origin == "openconfig" for n in notifications)
    assert all(len(str(n.timestamp)) == 19 for n in notifications)
    leaves = {rendered(u.path): u.val for n in notifications for u in n.update}
    prefix = "/components/component[name=Supervisor1]/state/"
    assert {p.removeprefix(prefix) for p in leaves} == STATE_LEAVES
    assert leaves[prefix + "name"].string_val == "Supervisor1"
    assert leaves[prefix + "redundant-role"].string_val == "PRIMARY"
    assert leaves[prefix + "switchover-ready"].WhichOneof("value") == "bool_val"
    assert leaves[prefix + "switchover-ready"].bool_val is False  # a single card has no standby
    assert leaves[prefix + "type"].string_val.endswith("CONTROLLER_CARD")
    assert len(str(leaves[prefix + "boot-time"].uint_val)) == 19


def test_subscribe_poll_answers_each_poll(gnmi_stub: gnmi_pb2_grpc.gNMIStub) -> None:
    requests: queue.Queue[gnmi.SubscribeRequest | None] = queue.Queue()
    requests.put(
        gnmi.SubscribeRequest(
            subscribe=gnmi.SubscriptionList(
                mode=gnmi.SubscriptionList.POLL,
                subscription=[gnmi.Subscription(path=path("/system/state/current-datetime"))],
                encoding=gnmi.PROTO,
            )
        )
    )
    call = gnmi_stub.Subscribe(iter(requests.get, None), timeout=20)
    seen = [next(call), next(call)]
    for _ in range(2):
        requests.put(gnmi.SubscribeRequest(poll=gnmi.Poll()))
        seen += [next(call), next(call)]
    requests.put(None)
    kinds = ["sync" if r.sync_response else rendered(r.update.update[0].path) for r in seen]
    assert kinds == ["/system/state/current-datetime", "sync"] * 3


def test_subscribe_stream_syncs_then_sends_changes(gnmi_stub: gnmi_pb2_grpc.gNMIStub) -> None:
    received: queue.Queue[gnmi.SubscribeResponse] = queue.Queue()
    stop = threading.Event()
    subscription = gnmi.SubscriptionList(
        mode=gnmi.SubscriptionList.STREAM,
        subscription=[
            gnmi.Subscription(path=path("/system/state/current-datetime"), mode=gnmi.ON_CHANGE),
            gnmi.Subscription(path=path("/system/state/software-version"), mode=gnmi.TARGET_DEFINED),
        ],
        encoding=gnmi.JSON_IETF,
    )

    def requests() -> Iterator[gnmi.SubscribeRequest]:
        yield gnmi.SubscribeRequest(subscribe=subscription)
        stop.wait()

    call = gnmi_stub.Subscribe(requests(), timeout=30)

    def read() -> None:
        try:
            for response in call:
                received.put(response)
        except grpc.RpcError as exc:  # the test cancels the call when it has seen enough
            if exc.code() is not grpc.StatusCode.CANCELLED:
                raise

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    first = [received.get(timeout=5) for _ in range(3)]
    assert [r.sync_response for r in first] == [False, False, True]
    started = time.monotonic()
    change = received.get(timeout=5)  # the clock moves on: an on-change update within a few seconds
    assert time.monotonic() - started < 4
    (update,) = change.update.update
    assert rendered(update.path) == "/system/state/current-datetime"
    assert json.loads(update.val.json_ietf_val).endswith("Z")
    stop.set()
    call.cancel()


def test_subscribe_must_start_with_a_subscription_list(gnmi_stub: gnmi_pb2_grpc.gNMIStub) -> None:
    poll_first = iter([gnmi.SubscribeRequest(poll=gnmi.Poll())])
    assert code_of(lambda: list(gnmi_stub.Subscribe(poll_first, timeout=5))) is grpc.StatusCode.INVALID_ARGUMENT


def test_capabilities_and_set(gnmi_stub: gnmi_pb2_grpc.gNMIStub) -> None:
    capabilities = gnmi_stub.Capabilities(gnmi.CapabilityRequest())
    assert {gnmi.PROTO, gnmi.JSON_IETF} <= set(capabilities.supported_encodings)
    assert code_of(lambda: gnmi_stub.Set(gnmi.SetRequest())) is grpc.StatusCode.UNIMPLEMENTED


def test_pygnmi_subscribe_once_with_a_wildcard(server: ServerProcess) -> None:
    responses = pygnmi(server.address, "once", "/components/component[name=*]/state/redundant-role", encoding="proto")
    assert responses[-1] == {"sync_response": True}
    updates = [u for r in responses[:-1] for u in r["update"]["update"]]
    assert updates == [{"path": "components/component[name=Supervisor1]/state/redundant-role", "val": "PRIMARY"}]


@pytest.mark.parametrize(
    ("pattern", "hit"),
    [
        ("/components/component[name=*]/state/redundant-role", True),
        ("/components/component/state", True),  # a key left out matches any value
        ("/components/component[name=Other]", False),
        ("/.../redundant-role", True),
        ("/.../name", False),
        ("/*/component/*/redundant-role", True),
        ("/components/component[name=Supervisor1]/state/redundant-role/deeper", False),
        ("/system", False),
    ],
)
def test_path_patterns(pattern: str, hit: bool) -> None:
    leaf = elems_of(path("/components/component[name=Supervisor1]/state/redundant-role"))
    assert matches(elems_of(path(pattern)), leaf) is hit
