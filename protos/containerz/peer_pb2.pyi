from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AppendRequest(_message.Message):
    __slots__ = ("epoch", "records")
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    epoch: int
    records: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, epoch: _Optional[int] = ..., records: _Optional[_Iterable[bytes]] = ...) -> None: ...

class AppendReply(_message.Message):
    __slots__ = ("verdict", "epoch", "last_seq")
    class Verdict(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        OK: _ClassVar[AppendReply.Verdict]
        STALE_EPOCH: _ClassVar[AppendReply.Verdict]
        OUT_OF_TURN: _ClassVar[AppendReply.Verdict]
    OK: AppendReply.Verdict
    STALE_EPOCH: AppendReply.Verdict
    OUT_OF_TURN: AppendReply.Verdict
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    LAST_SEQ_FIELD_NUMBER: _ClassVar[int]
    verdict: AppendReply.Verdict
    epoch: int
    last_seq: int
    def __init__(self, verdict: _Optional[_Union[AppendReply.Verdict, str]] = ..., epoch: _Optional[int] = ..., last_seq: _Optional[int] = ...) -> None: ...

class InstallRequest(_message.Message):
    __slots__ = ("epoch", "snapshot_epoch", "seq", "state_json")
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_EPOCH_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    STATE_JSON_FIELD_NUMBER: _ClassVar[int]
    epoch: int
    snapshot_epoch: int
    seq: int
    state_json: bytes
    def __init__(self, epoch: _Optional[int] = ..., snapshot_epoch: _Optional[int] = ..., seq: _Optional[int] = ..., state_json: _Optional[bytes] = ...) -> None: ...

class StatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class StatusReply(_message.Message):
    __slots__ = ("name", "active", "epoch", "boot_time_ns", "software_version", "switchover_ready", "last_switchover_time_ns", "last_switchover_trigger", "content_complete")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    BOOT_TIME_NS_FIELD_NUMBER: _ClassVar[int]
    SOFTWARE_VERSION_FIELD_NUMBER: _ClassVar[int]
    SWITCHOVER_READY_FIELD_NUMBER: _ClassVar[int]
    LAST_SWITCHOVER_TIME_NS_FIELD_NUMBER: _ClassVar[int]
    LAST_SWITCHOVER_TRIGGER_FIELD_NUMBER: _ClassVar[int]
    CONTENT_COMPLETE_FIELD_NUMBER: _ClassVar[int]
    name: str
    active: bool
    epoch: int
    boot_time_ns: int
    software_version: str
    switchover_ready: bool
    last_switchover_time_ns: int
    last_switchover_trigger: str
    content_complete: bool
    def __init__(self, name: _Optional[str] = ..., active: _Optional[bool] = ..., epoch: _Optional[int] = ..., boot_time_ns: _Optional[int] = ..., software_version: _Optional[str] = ..., switchover_ready: _Optional[bool] = ..., last_switchover_time_ns: _Optional[int] = ..., last_switchover_trigger: _Optional[str] = ..., content_complete: _Optional[bool] = ...) -> None: ...

class FetchImageRequest(_message.Message):
    __slots__ = ("reference",)
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    reference: str
    def __init__(self, reference: _Optional[str] = ...) -> None: ...

class Chunk(_message.Message):
    __slots__ = ("data",)
    DATA_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    def __init__(self, data: _Optional[bytes] = ...) -> None: ...

class PrefetchRequest(_message.Message):
    __slots__ = ("epoch", "reference")
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    epoch: int
    reference: str
    def __init__(self, epoch: _Optional[int] = ..., reference: _Optional[str] = ...) -> None: ...

class PrefetchReply(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class VolumeChunk(_message.Message):
    __slots__ = ("epoch", "volume", "data")
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    VOLUME_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    epoch: int
    volume: str
    data: bytes
    def __init__(self, epoch: _Optional[int] = ..., volume: _Optional[str] = ..., data: _Optional[bytes] = ...) -> None: ...

class PutVolumeDataReply(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class FetchPluginTarballRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class PrefetchPluginTarballRequest(_message.Message):
    __slots__ = ("epoch", "name", "sha256")
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    epoch: int
    name: str
    sha256: str
    def __init__(self, epoch: _Optional[int] = ..., name: _Optional[str] = ..., sha256: _Optional[str] = ...) -> None: ...
