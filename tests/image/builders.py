"""Build small, real image archives in the test suite, byte for byte deterministic.

Two layouts, as real tools write them:

* docker-archive, the shape nixpkgs ``dockerTools.streamLayeredImage`` streams and
  ``docker save`` wrote before Docker 25: ``manifest.json``, ``<config-sha>.json`` and
  ``<layer-sha>/layer.tar`` per layer;
* OCI image layout (image-spec ``image-layout.md``): ``oci-layout``, ``index.json`` and
  ``blobs/sha256/<hex>`` for the manifest, config and (gzip) layers, as ``skopeo copy
  oci-archive:`` writes.

Every knob a reproducibility bug turns is a parameter, so a test can flip exactly one.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import json
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

EPOCH_CREATED = "1970-01-01T00:00:01Z"  # nixpkgs dockerTools default `created`


@dataclass(frozen=True)
class Entry:
    path: str
    data: bytes = b""
    type: str = "file"  # file | dir | symlink | hardlink
    mode: int = 0o644
    uid: int = 0
    gid: int = 0
    mtime: int = 1
    linkname: str = ""
    uname: str = ""
    gname: str = ""


def base_layers() -> list[list[Entry]]:
    """Two layers shaped like the appliance: a root filesystem and the application."""
    return [
        [
            Entry("etc", type="dir", mode=0o755),
            Entry("etc/passwd", b"root:x:0:0::/root:/bin/sh\npostgres:x:70:70::/:/bin/false\n"),
            Entry("etc/group", b"root:x:0:\npostgres:x:70:\n"),
            Entry("bin", type="dir", mode=0o755),
            Entry("bin/sh", type="symlink", linkname="/nix/store/abc-busybox/bin/sh", mode=0o777),
            Entry("sp", type="dir", mode=0o755),
            Entry("sp/secrets", type="dir", mode=0o700, uid=70, gid=70),
        ],
        [
            Entry("app", type="dir", mode=0o755),
            Entry("app/run.sh", b"#!/bin/sh\nexec sealfeed serve\n", mode=0o755),
            Entry("app/config.json", b'{"nodes": 5}\n'),
            Entry("app/data.bin", bytes(range(256)) * 40),
            Entry("app/run-link", type="hardlink", linkname="app/run.sh", mode=0o755),
        ],
    ]


def replace_entry(layers: list[list[Entry]], layer: int, path: str, **changes: Any) -> None:
    for i, e in enumerate(layers[layer]):
        if e.path == path:
            layers[layer][i] = dataclasses.replace(e, **changes)
            return
    raise KeyError(path)


_TYPES = {
    "file": tarfile.REGTYPE,
    "dir": tarfile.DIRTYPE,
    "symlink": tarfile.SYMTYPE,
    "hardlink": tarfile.LNKTYPE,
}


def layer_tar(entries: Sequence[Entry], fmt: int = tarfile.PAX_FORMAT) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tf:
        for e in entries:
            info = tarfile.TarInfo(e.path)
            info.type = _TYPES[e.type]
            info.mode, info.uid, info.gid, info.mtime = e.mode, e.uid, e.gid, e.mtime
            info.uname, info.gname, info.linkname = e.uname, e.gname, e.linkname
            if e.type == "file":
                info.size = len(e.data)
                tf.addfile(info, io.BytesIO(e.data))
            else:
                tf.addfile(info)
    return buf.getvalue()


def gz(data: bytes, mtime: int = 0, os_byte: int = 3) -> bytes:
    """gzip with a fixed header. CPython's own header says OS=255 and zlib's says 3, and which
    one gzip.compress uses depends on mtime and the Python version, so the OS byte is set
    explicitly (3 = Unix, what pigz and GNU gzip write on Linux)."""
    out = bytearray(gzip.compress(data, compresslevel=6, mtime=mtime))
    out[9] = os_byte  # RFC 1952 §2.3: OS is the tenth header byte
    return bytes(out)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class Spec:
    """Everything that goes into one test image; mutate a copy to make a one-field change."""

    layers: list[list[Entry]] = field(default_factory=base_layers)
    env: list[str] = field(
        default_factory=lambda: [
            "PATH=/bin",
            "SSL_CERT_FILE=/etc/ssl/certs/ca-bundle.crt",
            "CONFIGURATION_PUBLIC_KEY=ab12",
        ]
    )
    created: str = EPOCH_CREATED
    history: list[dict[str, Any]] | None = None
    gzip_layers: bool = False
    layer_gzip_mtime: int = 0
    layer_gzip_os: int = 3
    outer_gzip: bool = False
    outer_gzip_mtime: int = 0
    outer_gzip_os: int = 3
    member_mtime: int = 0
    tag: str = "sealfeed:0.1.0"
    tar_format: int = tarfile.PAX_FORMAT
    config_indent: int | None = None

    def layer_blobs(self) -> list[tuple[bytes, bytes]]:
        """(uncompressed tar, stored blob) per layer."""
        out = []
        for entries in self.layers:
            raw = layer_tar(entries, self.tar_format)
            stored = gz(raw, self.layer_gzip_mtime, self.layer_gzip_os) if self.gzip_layers else raw
            out.append((raw, stored))
        return out

    def config(self, diff_ids: list[str]) -> bytes:
        history = self.history
        if history is None:
            history = [
                {"created": self.created, "comment": f"layer {i}"} for i in range(len(diff_ids))
            ]
        doc = {
            "architecture": "amd64",
            "config": {"Entrypoint": ["/init"], "Env": self.env, "User": "0:0"},
            "created": self.created,
            "history": history,
            "os": "linux",
            "rootfs": {"diff_ids": diff_ids, "type": "layers"},
        }
        return json.dumps(
            doc, indent=self.config_indent, separators=None if self.config_indent else (",", ":")
        ).encode()


def _tar(members: Sequence[tuple[str, bytes | None]], mtime: int) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.mtime = mtime
            if data is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tf.addfile(info)
            else:
                info.size, info.mode = len(data), 0o444
                tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _finish(spec: Spec, tar_bytes: bytes) -> bytes:
    if spec.outer_gzip:
        return gz(tar_bytes, spec.outer_gzip_mtime, spec.outer_gzip_os)
    return tar_bytes


def docker_archive(spec: Spec) -> bytes:
    blobs = spec.layer_blobs()
    diff_ids = ["sha256:" + sha(raw) for raw, _ in blobs]
    config = spec.config(diff_ids)
    config_name = f"{sha(config)}.json"
    members: list[tuple[str, bytes | None]] = []
    layer_names = []
    for _raw, stored in blobs:
        name = f"{sha(stored)}/layer.tar"
        members.append((name, stored))
        layer_names.append(name)
    members.append((config_name, config))
    manifest = [{"Config": config_name, "RepoTags": [spec.tag], "Layers": layer_names}]
    members.append(("manifest.json", json.dumps(manifest).encode()))
    return _finish(spec, _tar(members, spec.member_mtime))


def oci_layout(spec: Spec, docker_manifest: bool = False, wrong_config: bool = False) -> bytes:
    """OCI layout; ``docker_manifest`` adds the ``manifest.json`` Docker 25+ writes beside it."""
    blobs = spec.layer_blobs()
    diff_ids = ["sha256:" + sha(raw) for raw, _ in blobs]
    config = spec.config(diff_ids)
    layer_media = (
        "application/vnd.oci.image.layer.v1.tar+gzip"
        if spec.gzip_layers
        else "application/vnd.oci.image.layer.v1.tar"
    )
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": "sha256:" + sha(config),
                "size": len(config),
            },
            "layers": [
                {"mediaType": layer_media, "digest": "sha256:" + sha(s), "size": len(s)}
                for _, s in blobs
            ],
        }
    ).encode()
    index = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [
                {
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "digest": "sha256:" + sha(manifest),
                    "size": len(manifest),
                    "annotations": {"org.opencontainers.image.ref.name": spec.tag},
                    "platform": {"architecture": "amd64", "os": "linux"},
                }
            ],
        }
    ).encode()
    members: list[tuple[str, bytes | None]] = [
        ("blobs", None),
        ("blobs/sha256", None),
    ]
    seen = set()
    for blob in [s for _, s in blobs] + [config, manifest]:
        name = f"blobs/sha256/{sha(blob)}"
        if name not in seen:
            seen.add(name)
            members.append((name, blob))
    members.append(("index.json", index))
    if docker_manifest:
        config_ref = manifest if wrong_config else config
        docker = [
            {
                "Config": f"blobs/sha256/{sha(config_ref)}",
                "RepoTags": [spec.tag],
                "Layers": [f"blobs/sha256/{sha(s)}" for _, s in blobs],
            }
        ]
        members.append(("manifest.json", json.dumps(docker).encode()))
    members.append(("oci-layout", b'{"imageLayoutVersion":"1.0.0"}'))
    return _finish(spec, _tar(members, spec.member_mtime))


__all__ = [
    "EPOCH_CREATED",
    "Entry",
    "Spec",
    "base_layers",
    "docker_archive",
    "gz",
    "layer_tar",
    "oci_layout",
    "replace_entry",
    "sha",
]


def nix_layered_image(
    store_paths: dict[str, dict[str, bytes]], mtime: int = 1, created: str = EPOCH_CREATED
) -> bytes:
    """The shape nixpkgs' `stream_layered_image.py` writes (read for facts, not copied): one
    layer per store path with absolute member names, `/nix` and `/nix/store` (0755) first, then
    the path's files in sorted order, every entry with the image mtime and uid/gid 0 "root";
    config and manifest.json pretty-printed with 4-space indents; layers `<sha>/layer.tar`;
    history comments listing the store paths."""
    raws = []
    for path in sorted(store_paths):
        entries = [
            Entry("/nix", type="dir", mode=0o755, mtime=mtime, uname="root", gname="root"),
            Entry("/nix/store", type="dir", mode=0o755, mtime=mtime, uname="root", gname="root"),
            Entry(path, type="dir", mode=0o555, mtime=mtime, uname="root", gname="root"),
        ]
        for name in sorted(store_paths[path]):
            entries.append(
                Entry(
                    f"{path}/{name}",
                    store_paths[path][name],
                    mode=0o444,
                    mtime=mtime,
                    uname="root",
                    gname="root",
                )
            )
        raws.append((path, layer_tar(entries)))
    diff_ids = ["sha256:" + sha(raw) for _, raw in raws]
    config = json.dumps(
        {
            "created": created,
            "architecture": "amd64",
            "os": "linux",
            "config": {"Entrypoint": ["/init"], "Env": ["PATH=/bin"]},
            "rootfs": {"diff_ids": diff_ids, "type": "layers"},
            "history": [{"created": created, "comment": f"store paths: ['{p}']"} for p, _ in raws],
        },
        indent=4,
    ).encode()
    members: list[tuple[str, bytes | None]] = [(f"{sha(raw)}/layer.tar", raw) for _, raw in raws]
    members.append((f"{sha(config)}.json", config))
    manifest = [
        {
            "Config": f"{sha(config)}.json",
            "RepoTags": ["sealfeed:0.1.0"],
            "Layers": [name for name, _ in members[:-1]],
        }
    ]
    members.append(("manifest.json", json.dumps(manifest, indent=4).encode()))
    return _tar(members, mtime)
