import datetime

from protos.gnoi.common import common_pb2 as _common_pb2
from protos.gnoi.types import types_pb2 as _types_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.rpc import status_pb2 as _status_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Driver(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DS_UNSPECIFIED: _ClassVar[Driver]
    DS_LOCAL: _ClassVar[Driver]
    DS_CUSTOM: _ClassVar[Driver]
DS_UNSPECIFIED: Driver
DS_LOCAL: Driver
DS_CUSTOM: Driver

class DeployRequest(_message.Message):
    __slots__ = ("image_transfer", "content", "image_transfer_end")
    IMAGE_TRANSFER_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    IMAGE_TRANSFER_END_FIELD_NUMBER: _ClassVar[int]
    image_transfer: ImageTransfer
    content: bytes
    image_transfer_end: ImageTransferEnd
    def __init__(self, image_transfer: _Optional[_Union[ImageTransfer, _Mapping]] = ..., content: _Optional[bytes] = ..., image_transfer_end: _Optional[_Union[ImageTransferEnd, _Mapping]] = ...) -> None: ...

class ImageTransfer(_message.Message):
    __slots__ = ("name", "tag", "image_size", "remote_download", "is_plugin")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TAG_FIELD_NUMBER: _ClassVar[int]
    IMAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    REMOTE_DOWNLOAD_FIELD_NUMBER: _ClassVar[int]
    IS_PLUGIN_FIELD_NUMBER: _ClassVar[int]
    name: str
    tag: str
    image_size: int
    remote_download: _common_pb2.RemoteDownload
    is_plugin: bool
    def __init__(self, name: _Optional[str] = ..., tag: _Optional[str] = ..., image_size: _Optional[int] = ..., remote_download: _Optional[_Union[_common_pb2.RemoteDownload, _Mapping]] = ..., is_plugin: _Optional[bool] = ...) -> None: ...

class ImageTransferEnd(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class DeployResponse(_message.Message):
    __slots__ = ("image_transfer_ready", "image_transfer_progress", "image_transfer_success", "image_transfer_error")
    IMAGE_TRANSFER_READY_FIELD_NUMBER: _ClassVar[int]
    IMAGE_TRANSFER_PROGRESS_FIELD_NUMBER: _ClassVar[int]
    IMAGE_TRANSFER_SUCCESS_FIELD_NUMBER: _ClassVar[int]
    IMAGE_TRANSFER_ERROR_FIELD_NUMBER: _ClassVar[int]
    image_transfer_ready: ImageTransferReady
    image_transfer_progress: ImageTransferProgress
    image_transfer_success: ImageTransferSuccess
    image_transfer_error: _status_pb2.Status
    def __init__(self, image_transfer_ready: _Optional[_Union[ImageTransferReady, _Mapping]] = ..., image_transfer_progress: _Optional[_Union[ImageTransferProgress, _Mapping]] = ..., image_transfer_success: _Optional[_Union[ImageTransferSuccess, _Mapping]] = ..., image_transfer_error: _Optional[_Union[_status_pb2.Status, _Mapping]] = ...) -> None: ...

class ImageTransferReady(_message.Message):
    __slots__ = ("chunk_size",)
    CHUNK_SIZE_FIELD_NUMBER: _ClassVar[int]
    chunk_size: int
    def __init__(self, chunk_size: _Optional[int] = ...) -> None: ...

class ImageTransferProgress(_message.Message):
    __slots__ = ("bytes_received",)
    BYTES_RECEIVED_FIELD_NUMBER: _ClassVar[int]
    bytes_received: int
    def __init__(self, bytes_received: _Optional[int] = ...) -> None: ...

class ImageTransferSuccess(_message.Message):
    __slots__ = ("name", "tag", "image_size")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TAG_FIELD_NUMBER: _ClassVar[int]
    IMAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    name: str
    tag: str
    image_size: int
    def __init__(self, name: _Optional[str] = ..., tag: _Optional[str] = ..., image_size: _Optional[int] = ...) -> None: ...

class RemoveImageRequest(_message.Message):
    __slots__ = ("name", "tag", "force")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TAG_FIELD_NUMBER: _ClassVar[int]
    FORCE_FIELD_NUMBER: _ClassVar[int]
    name: str
    tag: str
    force: bool
    def __init__(self, name: _Optional[str] = ..., tag: _Optional[str] = ..., force: _Optional[bool] = ...) -> None: ...

class RemoveImageResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class RemoveContainerRequest(_message.Message):
    __slots__ = ("name", "force")
    NAME_FIELD_NUMBER: _ClassVar[int]
    FORCE_FIELD_NUMBER: _ClassVar[int]
    name: str
    force: bool
    def __init__(self, name: _Optional[str] = ..., force: _Optional[bool] = ...) -> None: ...

class RemoveContainerResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListImageRequest(_message.Message):
    __slots__ = ("limit", "filter")
    class Filter(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _containers.RepeatedScalarFieldContainer[str]
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Iterable[str]] = ...) -> None: ...
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    limit: int
    filter: _containers.RepeatedCompositeFieldContainer[ListImageRequest.Filter]
    def __init__(self, limit: _Optional[int] = ..., filter: _Optional[_Iterable[_Union[ListImageRequest.Filter, _Mapping]]] = ...) -> None: ...

class ListImageResponse(_message.Message):
    __slots__ = ("id", "image_name", "tag")
    ID_FIELD_NUMBER: _ClassVar[int]
    IMAGE_NAME_FIELD_NUMBER: _ClassVar[int]
    TAG_FIELD_NUMBER: _ClassVar[int]
    id: str
    image_name: str
    tag: str
    def __init__(self, id: _Optional[str] = ..., image_name: _Optional[str] = ..., tag: _Optional[str] = ...) -> None: ...

class ListContainerRequest(_message.Message):
    __slots__ = ("all", "limit", "filter")
    class Filter(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _containers.RepeatedScalarFieldContainer[str]
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Iterable[str]] = ...) -> None: ...
    ALL_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    all: bool
    limit: int
    filter: _containers.RepeatedCompositeFieldContainer[ListContainerRequest.Filter]
    def __init__(self, all: _Optional[bool] = ..., limit: _Optional[int] = ..., filter: _Optional[_Iterable[_Union[ListContainerRequest.Filter, _Mapping]]] = ...) -> None: ...

class ListContainerResponse(_message.Message):
    __slots__ = ("id", "name", "image_name", "status", "labels", "hash")
    class Status(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        UNSPECIFIED: _ClassVar[ListContainerResponse.Status]
        STOPPED: _ClassVar[ListContainerResponse.Status]
        RUNNING: _ClassVar[ListContainerResponse.Status]
        PRESENT: _ClassVar[ListContainerResponse.Status]
        NOT_FOUND: _ClassVar[ListContainerResponse.Status]
    UNSPECIFIED: ListContainerResponse.Status
    STOPPED: ListContainerResponse.Status
    RUNNING: ListContainerResponse.Status
    PRESENT: ListContainerResponse.Status
    NOT_FOUND: ListContainerResponse.Status
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    IMAGE_NAME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    HASH_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    image_name: str
    status: ListContainerResponse.Status
    labels: _containers.ScalarMap[str, str]
    hash: _types_pb2.HashType
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., image_name: _Optional[str] = ..., status: _Optional[_Union[ListContainerResponse.Status, str]] = ..., labels: _Optional[_Mapping[str, str]] = ..., hash: _Optional[_Union[_types_pb2.HashType, _Mapping]] = ...) -> None: ...

class Volume(_message.Message):
    __slots__ = ("name", "mount_point", "read_only")
    NAME_FIELD_NUMBER: _ClassVar[int]
    MOUNT_POINT_FIELD_NUMBER: _ClassVar[int]
    READ_ONLY_FIELD_NUMBER: _ClassVar[int]
    name: str
    mount_point: str
    read_only: bool
    def __init__(self, name: _Optional[str] = ..., mount_point: _Optional[str] = ..., read_only: _Optional[bool] = ...) -> None: ...

class Device(_message.Message):
    __slots__ = ("src_path", "dst_path", "permissions")
    class Permission(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        UNSPECIFIED: _ClassVar[Device.Permission]
        READ: _ClassVar[Device.Permission]
        WRITE: _ClassVar[Device.Permission]
        MKNOD: _ClassVar[Device.Permission]
    UNSPECIFIED: Device.Permission
    READ: Device.Permission
    WRITE: Device.Permission
    MKNOD: Device.Permission
    SRC_PATH_FIELD_NUMBER: _ClassVar[int]
    DST_PATH_FIELD_NUMBER: _ClassVar[int]
    PERMISSIONS_FIELD_NUMBER: _ClassVar[int]
    src_path: str
    dst_path: str
    permissions: _containers.RepeatedScalarFieldContainer[Device.Permission]
    def __init__(self, src_path: _Optional[str] = ..., dst_path: _Optional[str] = ..., permissions: _Optional[_Iterable[_Union[Device.Permission, str]]] = ...) -> None: ...

class StartContainerRequest(_message.Message):
    __slots__ = ("image_name", "tag", "cmd", "instance_name", "ports", "environment", "volumes", "network", "cap", "restart", "run_as", "labels", "limits", "devices", "location")
    class Location(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        L_UNKNOWN: _ClassVar[StartContainerRequest.Location]
        L_PRIMARY: _ClassVar[StartContainerRequest.Location]
        L_BACKUP: _ClassVar[StartContainerRequest.Location]
        L_ALL: _ClassVar[StartContainerRequest.Location]
    L_UNKNOWN: StartContainerRequest.Location
    L_PRIMARY: StartContainerRequest.Location
    L_BACKUP: StartContainerRequest.Location
    L_ALL: StartContainerRequest.Location
    class Port(_message.Message):
        __slots__ = ("internal", "external")
        INTERNAL_FIELD_NUMBER: _ClassVar[int]
        EXTERNAL_FIELD_NUMBER: _ClassVar[int]
        internal: int
        external: int
        def __init__(self, internal: _Optional[int] = ..., external: _Optional[int] = ...) -> None: ...
    class EnvironmentEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class Capabilities(_message.Message):
        __slots__ = ("add", "remove")
        ADD_FIELD_NUMBER: _ClassVar[int]
        REMOVE_FIELD_NUMBER: _ClassVar[int]
        add: _containers.RepeatedScalarFieldContainer[str]
        remove: _containers.RepeatedScalarFieldContainer[str]
        def __init__(self, add: _Optional[_Iterable[str]] = ..., remove: _Optional[_Iterable[str]] = ...) -> None: ...
    class Restart(_message.Message):
        __slots__ = ("policy", "attempts")
        class Policy(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
            __slots__ = ()
            NONE: _ClassVar[StartContainerRequest.Restart.Policy]
            ALWAYS: _ClassVar[StartContainerRequest.Restart.Policy]
            UNLESS_STOPPED: _ClassVar[StartContainerRequest.Restart.Policy]
            ON_FAILURE: _ClassVar[StartContainerRequest.Restart.Policy]
        NONE: StartContainerRequest.Restart.Policy
        ALWAYS: StartContainerRequest.Restart.Policy
        UNLESS_STOPPED: StartContainerRequest.Restart.Policy
        ON_FAILURE: StartContainerRequest.Restart.Policy
        POLICY_FIELD_NUMBER: _ClassVar[int]
        ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
        policy: StartContainerRequest.Restart.Policy
        attempts: int
        def __init__(self, policy: _Optional[_Union[StartContainerRequest.Restart.Policy, str]] = ..., attempts: _Optional[int] = ...) -> None: ...
    class RunAs(_message.Message):
        __slots__ = ("user", "group")
        USER_FIELD_NUMBER: _ClassVar[int]
        GROUP_FIELD_NUMBER: _ClassVar[int]
        user: str
        group: str
        def __init__(self, user: _Optional[str] = ..., group: _Optional[str] = ...) -> None: ...
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class Limits(_message.Message):
        __slots__ = ("max_cpu", "soft_mem_bytes", "hard_mem_bytes")
        MAX_CPU_FIELD_NUMBER: _ClassVar[int]
        SOFT_MEM_BYTES_FIELD_NUMBER: _ClassVar[int]
        HARD_MEM_BYTES_FIELD_NUMBER: _ClassVar[int]
        max_cpu: float
        soft_mem_bytes: int
        hard_mem_bytes: int
        def __init__(self, max_cpu: _Optional[float] = ..., soft_mem_bytes: _Optional[int] = ..., hard_mem_bytes: _Optional[int] = ...) -> None: ...
    IMAGE_NAME_FIELD_NUMBER: _ClassVar[int]
    TAG_FIELD_NUMBER: _ClassVar[int]
    CMD_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_NAME_FIELD_NUMBER: _ClassVar[int]
    PORTS_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    VOLUMES_FIELD_NUMBER: _ClassVar[int]
    NETWORK_FIELD_NUMBER: _ClassVar[int]
    CAP_FIELD_NUMBER: _ClassVar[int]
    RESTART_FIELD_NUMBER: _ClassVar[int]
    RUN_AS_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    DEVICES_FIELD_NUMBER: _ClassVar[int]
    LOCATION_FIELD_NUMBER: _ClassVar[int]
    image_name: str
    tag: str
    cmd: str
    instance_name: str
    ports: _containers.RepeatedCompositeFieldContainer[StartContainerRequest.Port]
    environment: _containers.ScalarMap[str, str]
    volumes: _containers.RepeatedCompositeFieldContainer[Volume]
    network: str
    cap: StartContainerRequest.Capabilities
    restart: StartContainerRequest.Restart
    run_as: StartContainerRequest.RunAs
    labels: _containers.ScalarMap[str, str]
    limits: StartContainerRequest.Limits
    devices: _containers.RepeatedCompositeFieldContainer[Device]
    location: StartContainerRequest.Location
    def __init__(self, image_name: _Optional[str] = ..., tag: _Optional[str] = ..., cmd: _Optional[str] = ..., instance_name: _Optional[str] = ..., ports: _Optional[_Iterable[_Union[StartContainerRequest.Port, _Mapping]]] = ..., environment: _Optional[_Mapping[str, str]] = ..., volumes: _Optional[_Iterable[_Union[Volume, _Mapping]]] = ..., network: _Optional[str] = ..., cap: _Optional[_Union[StartContainerRequest.Capabilities, _Mapping]] = ..., restart: _Optional[_Union[StartContainerRequest.Restart, _Mapping]] = ..., run_as: _Optional[_Union[StartContainerRequest.RunAs, _Mapping]] = ..., labels: _Optional[_Mapping[str, str]] = ..., limits: _Optional[_Union[StartContainerRequest.Limits, _Mapping]] = ..., devices: _Optional[_Iterable[_Union[Device, _Mapping]]] = ..., location: _Optional[_Union[StartContainerRequest.Location, str]] = ...) -> None: ...

class StartContainerResponse(_message.Message):
    __slots__ = ("start_ok", "start_error")
    START_OK_FIELD_NUMBER: _ClassVar[int]
    START_ERROR_FIELD_NUMBER: _ClassVar[int]
    start_ok: StartOK
    start_error: StartError
    def __init__(self, start_ok: _Optional[_Union[StartOK, _Mapping]] = ..., start_error: _Optional[_Union[StartError, _Mapping]] = ...) -> None: ...

class StartOK(_message.Message):
    __slots__ = ("instance_name",)
    INSTANCE_NAME_FIELD_NUMBER: _ClassVar[int]
    instance_name: str
    def __init__(self, instance_name: _Optional[str] = ...) -> None: ...

class StartError(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class StopContainerRequest(_message.Message):
    __slots__ = ("instance_name", "force", "restart")
    INSTANCE_NAME_FIELD_NUMBER: _ClassVar[int]
    FORCE_FIELD_NUMBER: _ClassVar[int]
    RESTART_FIELD_NUMBER: _ClassVar[int]
    instance_name: str
    force: bool
    restart: bool
    def __init__(self, instance_name: _Optional[str] = ..., force: _Optional[bool] = ..., restart: _Optional[bool] = ...) -> None: ...

class StopContainerResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class UpdateContainerRequest(_message.Message):
    __slots__ = ("instance_name", "image_name", "image_tag", "params")
    INSTANCE_NAME_FIELD_NUMBER: _ClassVar[int]
    IMAGE_NAME_FIELD_NUMBER: _ClassVar[int]
    IMAGE_TAG_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    ASYNC_FIELD_NUMBER: _ClassVar[int]
    instance_name: str
    image_name: str
    image_tag: str
    params: StartContainerRequest
    def __init__(self, instance_name: _Optional[str] = ..., image_name: _Optional[str] = ..., image_tag: _Optional[str] = ..., params: _Optional[_Union[StartContainerRequest, _Mapping]] = ..., **kwargs) -> None: ...

class UpdateContainerResponse(_message.Message):
    __slots__ = ("update_ok", "update_error")
    UPDATE_OK_FIELD_NUMBER: _ClassVar[int]
    UPDATE_ERROR_FIELD_NUMBER: _ClassVar[int]
    update_ok: UpdateOK
    update_error: UpdateError
    def __init__(self, update_ok: _Optional[_Union[UpdateOK, _Mapping]] = ..., update_error: _Optional[_Union[UpdateError, _Mapping]] = ...) -> None: ...

class UpdateOK(_message.Message):
    __slots__ = ("instance_name", "is_async")
    INSTANCE_NAME_FIELD_NUMBER: _ClassVar[int]
    IS_ASYNC_FIELD_NUMBER: _ClassVar[int]
    instance_name: str
    is_async: bool
    def __init__(self, instance_name: _Optional[str] = ..., is_async: _Optional[bool] = ...) -> None: ...

class UpdateError(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class LogRequest(_message.Message):
    __slots__ = ("instance_name", "follow")
    INSTANCE_NAME_FIELD_NUMBER: _ClassVar[int]
    FOLLOW_FIELD_NUMBER: _ClassVar[int]
    instance_name: str
    follow: bool
    def __init__(self, instance_name: _Optional[str] = ..., follow: _Optional[bool] = ...) -> None: ...

class LogResponse(_message.Message):
    __slots__ = ("msg",)
    MSG_FIELD_NUMBER: _ClassVar[int]
    msg: str
    def __init__(self, msg: _Optional[str] = ...) -> None: ...

class LocalDriverOptions(_message.Message):
    __slots__ = ("type", "options", "mountpoint")
    class Type(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        TYPE_UNSPECIFIED: _ClassVar[LocalDriverOptions.Type]
        TYPE_NONE: _ClassVar[LocalDriverOptions.Type]
    TYPE_UNSPECIFIED: LocalDriverOptions.Type
    TYPE_NONE: LocalDriverOptions.Type
    TYPE_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    MOUNTPOINT_FIELD_NUMBER: _ClassVar[int]
    type: LocalDriverOptions.Type
    options: _containers.RepeatedScalarFieldContainer[str]
    mountpoint: str
    def __init__(self, type: _Optional[_Union[LocalDriverOptions.Type, str]] = ..., options: _Optional[_Iterable[str]] = ..., mountpoint: _Optional[str] = ...) -> None: ...

class CustomOptions(_message.Message):
    __slots__ = ("options",)
    class OptionsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    options: _containers.ScalarMap[str, str]
    def __init__(self, options: _Optional[_Mapping[str, str]] = ...) -> None: ...

class CreateVolumeRequest(_message.Message):
    __slots__ = ("name", "driver", "labels", "local_mount_options", "custom_options")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    DRIVER_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    LOCAL_MOUNT_OPTIONS_FIELD_NUMBER: _ClassVar[int]
    CUSTOM_OPTIONS_FIELD_NUMBER: _ClassVar[int]
    name: str
    driver: Driver
    labels: _containers.ScalarMap[str, str]
    local_mount_options: LocalDriverOptions
    custom_options: CustomOptions
    def __init__(self, name: _Optional[str] = ..., driver: _Optional[_Union[Driver, str]] = ..., labels: _Optional[_Mapping[str, str]] = ..., local_mount_options: _Optional[_Union[LocalDriverOptions, _Mapping]] = ..., custom_options: _Optional[_Union[CustomOptions, _Mapping]] = ...) -> None: ...

class CreateVolumeResponse(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class RemoveVolumeRequest(_message.Message):
    __slots__ = ("name", "force")
    NAME_FIELD_NUMBER: _ClassVar[int]
    FORCE_FIELD_NUMBER: _ClassVar[int]
    name: str
    force: bool
    def __init__(self, name: _Optional[str] = ..., force: _Optional[bool] = ...) -> None: ...

class RemoveVolumeResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListVolumeRequest(_message.Message):
    __slots__ = ("filter",)
    class Filter(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _containers.RepeatedScalarFieldContainer[str]
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Iterable[str]] = ...) -> None: ...
    FILTER_FIELD_NUMBER: _ClassVar[int]
    filter: _containers.RepeatedCompositeFieldContainer[ListVolumeRequest.Filter]
    def __init__(self, filter: _Optional[_Iterable[_Union[ListVolumeRequest.Filter, _Mapping]]] = ...) -> None: ...

class ListVolumeResponse(_message.Message):
    __slots__ = ("name", "created", "driver", "options", "labels")
    class OptionsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    DRIVER_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    name: str
    created: _timestamp_pb2.Timestamp
    driver: str
    options: _containers.ScalarMap[str, str]
    labels: _containers.ScalarMap[str, str]
    def __init__(self, name: _Optional[str] = ..., created: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., driver: _Optional[str] = ..., options: _Optional[_Mapping[str, str]] = ..., labels: _Optional[_Mapping[str, str]] = ...) -> None: ...

class StartPluginRequest(_message.Message):
    __slots__ = ("name", "instance_name", "config")
    NAME_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_NAME_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    name: str
    instance_name: str
    config: str
    def __init__(self, name: _Optional[str] = ..., instance_name: _Optional[str] = ..., config: _Optional[str] = ...) -> None: ...

class StartPluginResponse(_message.Message):
    __slots__ = ("instance_name",)
    INSTANCE_NAME_FIELD_NUMBER: _ClassVar[int]
    instance_name: str
    def __init__(self, instance_name: _Optional[str] = ...) -> None: ...

class StopPluginRequest(_message.Message):
    __slots__ = ("instance_name",)
    INSTANCE_NAME_FIELD_NUMBER: _ClassVar[int]
    instance_name: str
    def __init__(self, instance_name: _Optional[str] = ...) -> None: ...

class StopPluginResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListPluginsRequest(_message.Message):
    __slots__ = ("instance_name",)
    INSTANCE_NAME_FIELD_NUMBER: _ClassVar[int]
    instance_name: str
    def __init__(self, instance_name: _Optional[str] = ...) -> None: ...

class Plugin(_message.Message):
    __slots__ = ("id", "instance_name", "hash", "config")
    ID_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_NAME_FIELD_NUMBER: _ClassVar[int]
    HASH_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    id: str
    instance_name: str
    hash: _types_pb2.HashType
    config: str
    def __init__(self, id: _Optional[str] = ..., instance_name: _Optional[str] = ..., hash: _Optional[_Union[_types_pb2.HashType, _Mapping]] = ..., config: _Optional[str] = ...) -> None: ...

class ListPluginsResponse(_message.Message):
    __slots__ = ("plugins",)
    PLUGINS_FIELD_NUMBER: _ClassVar[int]
    plugins: _containers.RepeatedCompositeFieldContainer[Plugin]
    def __init__(self, plugins: _Optional[_Iterable[_Union[Plugin, _Mapping]]] = ...) -> None: ...

class RemovePluginRequest(_message.Message):
    __slots__ = ("instance_name",)
    INSTANCE_NAME_FIELD_NUMBER: _ClassVar[int]
    instance_name: str
    def __init__(self, instance_name: _Optional[str] = ...) -> None: ...

class RemovePluginResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class RemovePluginTarRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class RemovePluginTarResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
