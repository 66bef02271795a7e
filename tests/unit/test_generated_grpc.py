"""The committed gRPC modules are what `./dev proto` makes of the .proto files in the repository."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

from google.protobuf import descriptor_pb2

REPO = Path(__file__).resolve().parents[2]
PROTOS = REPO / "apiserver" / "grpc" / "protos"
sys.path.insert(0, str(PROTOS))

import generate  # noqa: E402  (apiserver/grpc/protos/generate.py, what ./dev proto runs)


def test_the_committed_modules_carry_exactly_the_descriptors_of_the_protos(tmp_path):
    # Descriptors, not bytes of code: a newer protoc writes other code for the same contract.
    out = tmp_path / "set.pb"
    include = Path(generate.protoc.__file__).parent / "_proto"
    assert (
        generate.protoc.main(
            ["protoc", f"-I{PROTOS}", f"-I{include}", f"--descriptor_set_out={out}", *generate.sources()]
        )
        == 0
    )
    built = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())
    assert {f.name for f in built.file} >= {"decryptv1beta1/decrypt.proto", "decryptv1/decrypt.proto"}
    for expected in built.file:
        package, stem = expected.name.removesuffix(".proto").split("/")
        module = importlib.import_module(f"apiserver.grpc.generated.{package}.{stem}_pb2")
        committed = descriptor_pb2.FileDescriptorProto.FromString(module.DESCRIPTOR.serialized_pb)
        _without_json_names(expected)  # protoc fills them in a descriptor set; the Python generator leaves them out
        assert committed == expected, f"{expected.name}: run ./dev proto"


def _without_json_names(file: descriptor_pb2.FileDescriptorProto) -> None:
    messages = list(file.message_type)
    while messages:
        message = messages.pop()
        messages.extend(message.nested_type)
        for field in message.field:
            field.ClearField("json_name")


def test_dev_proto_generates_importable_modules(tmp_path):
    out = tmp_path / "generated"
    assert generate.main(out) == 0
    grpc_module = (out / "decryptv1beta1" / "decrypt_pb2_grpc.py").read_text()
    assert "from . import decrypt_pb2" in grpc_module  # relative: importable inside the package
    assert (out / "decryptv1" / "decrypt_pb2.pyi").exists() and (out / "__init__.py").exists()
    done = subprocess.run(
        [sys.executable, "-c", "import generated.decryptv1.decrypt_pb2_grpc as m; print(m.SecureValueDecrypterStub)"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
