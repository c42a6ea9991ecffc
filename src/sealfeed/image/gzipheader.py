"""The gzip member header (RFC 1952 §2.3), parsed with bounds checks.

The header is where two builds of the same bytes most often differ: ``MTIME`` (the
compressor's clock or the input file's mtime) and ``OS`` (the compressing host: 3 = Unix,
255 = unknown, which Python writes). Both change the archive digest while the payload stays
identical, so the diff names them.
"""

from __future__ import annotations

from dataclasses import dataclass

from sealfeed.errors import InputError

GZIP_MAGIC = b"\x1f\x8b"
#: RFC 1952 §2.3.1: CM=8 is "deflate", the only method defined.
_CM_DEFLATE = 8
# RFC 1952 §2.3.1 FLG bits
_FTEXT = 0x01
_FHCRC = 0x02
_FEXTRA = 0x04
_FNAME = 0x08
_FCOMMENT = 0x10
_FIXED_LEN = 10  # ID1 ID2 CM FLG MTIME(4) XFL OS


@dataclass(frozen=True)
class GzipHeader:
    """The fields of a gzip member header that can vary between builds."""

    flags: int
    mtime: int
    xfl: int
    os: int
    fname: str | None = None
    comment: str | None = None
    extra: bytes | None = None
    header_len: int = _FIXED_LEN

    def as_dict(self) -> dict[str, object]:
        return {
            "flags": self.flags,
            "mtime": self.mtime,
            "xfl": self.xfl,
            "os": self.os,
            "fname": self.fname,
            "comment": self.comment,
            "extra": self.extra.hex() if self.extra is not None else None,
        }


def is_gzip(prefix: bytes) -> bool:
    return prefix[:2] == GZIP_MAGIC


def _cstring(data: bytes, start: int, what: str, location: str) -> tuple[str, int]:
    end = data.find(b"\x00", start)
    if end < 0:
        raise InputError(f"gzip header: unterminated {what}", location=f"{location}@{start}")
    return data[start:end].decode("latin-1"), end + 1  # RFC 1952: ISO 8859-1


def parse_gzip_header(data: bytes, location: str = "gzip") -> GzipHeader:
    """Parse the header at the start of ``data`` (at least the first few KiB of a member)."""
    if len(data) < _FIXED_LEN:
        raise InputError(
            f"gzip header truncated ({len(data)} of {_FIXED_LEN} bytes)", location=location
        )
    if data[:2] != GZIP_MAGIC:
        raise InputError("not a gzip member (bad magic)", location=f"{location}@0")
    if data[2] != _CM_DEFLATE:
        raise InputError(f"unsupported gzip method {data[2]}", location=f"{location}@2")
    flags = data[3]
    mtime = int.from_bytes(data[4:8], "little")
    xfl, os_byte = data[8], data[9]
    pos = _FIXED_LEN
    extra: bytes | None = None
    fname: str | None = None
    comment: str | None = None
    if flags & _FEXTRA:
        if len(data) < pos + 2:
            raise InputError("gzip header: truncated FEXTRA length", location=f"{location}@{pos}")
        xlen = int.from_bytes(data[pos : pos + 2], "little")
        pos += 2
        if len(data) < pos + xlen:
            raise InputError("gzip header: truncated FEXTRA field", location=f"{location}@{pos}")
        extra = data[pos : pos + xlen]
        pos += xlen
    if flags & _FNAME:
        fname, pos = _cstring(data, pos, "FNAME", location)
    if flags & _FCOMMENT:
        comment, pos = _cstring(data, pos, "FCOMMENT", location)
    if flags & _FHCRC:
        pos += 2
        if len(data) < pos:
            raise InputError("gzip header: truncated FHCRC", location=f"{location}@{pos - 2}")
    return GzipHeader(
        flags=flags,
        mtime=mtime,
        xfl=xfl,
        os=os_byte,
        fname=fname,
        comment=comment,
        extra=extra,
        header_len=pos,
    )


__all__ = ["GZIP_MAGIC", "GzipHeader", "is_gzip", "parse_gzip_header"]
