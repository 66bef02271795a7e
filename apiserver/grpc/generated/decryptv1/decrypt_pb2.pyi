from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SecureValueDecryptRequest(_message.Message):
    __slots__ = ("namespace", "names")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    NAMES_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    names: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, namespace: _Optional[str] = ..., names: _Optional[_Iterable[str]] = ...) -> None: ...

class SecureValueDecryptResponseCollection(_message.Message):
    __slots__ = ("decrypted_values",)
    class DecryptedValuesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: Result
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[Result, _Mapping]] = ...) -> None: ...
    DECRYPTED_VALUES_FIELD_NUMBER: _ClassVar[int]
    decrypted_values: _containers.MessageMap[str, Result]
    def __init__(self, decrypted_values: _Optional[_Mapping[str, Result]] = ...) -> None: ...

class Result(_message.Message):
    __slots__ = ("value", "error_message")
    VALUE_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    value: str
    error_message: str
    def __init__(self, value: _Optional[str] = ..., error_message: _Optional[str] = ...) -> None: ...
