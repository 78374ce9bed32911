"""A zip written front to back as it is sent, its files stored (not recompressed): memory stays flat.

Python's ZipFile keeps a `ZipInfo` per file until it writes the central directory at the end, which cost
the server about 1.1 KB per result while streaming a big job. Here each file's central-directory record
is made as the file is added and spooled to a temporary file; `end()` copies it out. Zip64 records are
written where the format needs them: 65,535 files or more, an offset or a size past 4 GiB.
"""

from __future__ import annotations

import struct
import tempfile
import zlib
from collections.abc import Iterator
from datetime import datetime
from types import TracebackType
from typing import IO

LIMIT = 0xFFFFFFFF  # a 32-bit field's largest value: it then means "see the zip64 record"
COUNT_LIMIT = 0xFFFF
ZIP64 = 45  # the version a reader needs for zip64 fields
PLAIN = 20
UNIX = 3  # "made by" a Unix system: the external attributes are its file mode
MODE = 0o644 << 16


def dos_time(moment: datetime) -> tuple[int, int]:
    """(time, date) as the zip format keeps them: two-second steps, years from 1980."""
    year = min(max(moment.year, 1980), 2107)
    return moment.hour << 11 | moment.minute << 5 | moment.second // 2, (
        year - 1980
    ) << 9 | moment.month << 5 | moment.day


def crc_of(file: IO[bytes], chunk: int = 1 << 20) -> int:
    """The CRC-32 of a binary file from its start (read to its end)."""
    crc = 0
    file.seek(0)
    while data := file.read(chunk):
        crc = zlib.crc32(data, crc)
    return crc


class StreamedZip:
    def __init__(self) -> None:
        self._directory = tempfile.TemporaryFile()
        self._offset = 0  # bytes of the zip handed out so far
        self._count = 0

    def __enter__(self) -> StreamedZip:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self._directory.close()

    def file(self, name: str, data: bytes, when: datetime) -> bytes:
        """A whole file: its local header and its bytes."""
        return self.header(name, len(data), zlib.crc32(data), when) + data

    def header(self, name: str, size: int, crc: int, when: datetime) -> bytes:
        """The local header of a file of `size` bytes with CRC-32 `crc`; its bytes must be sent right after it."""
        encoded = name.encode("ascii")  # our names are plain (cli/serve/files.py); no UTF-8 flag needed
        big, far = size >= LIMIT, self._offset >= LIMIT
        version = ZIP64 if big or far else PLAIN
        clock, day = dos_time(when)
        shown = LIMIT if big else size
        local_extra = struct.pack("<HHQQ", 1, 16, size, size) if big else b""
        header = struct.pack(
            "<IHHHHHIIIHH", 0x04034B50, version, 0, 0, clock, day, crc, shown, shown, len(encoded), len(local_extra)
        )
        fields = (struct.pack("<QQ", size, size) if big else b"") + (struct.pack("<Q", self._offset) if far else b"")
        extra = struct.pack("<HH", 1, len(fields)) + fields if fields else b""
        self._directory.write(
            struct.pack(
                "<IBBBBHHHHIIIHHHHHII",
                0x02014B50,
                version,
                UNIX,
                version,
                0,
                0,  # flags
                0,  # stored
                clock,
                day,
                crc,
                shown,
                shown,
                len(encoded),
                len(extra),
                0,  # comment
                0,  # disk
                0,  # internal attributes
                MODE,
                LIMIT if far else self._offset,
            )
            + encoded
            + extra
        )
        self._count += 1
        local = header + encoded + local_extra
        self._offset += len(local) + size
        return local

    def end(self, chunk: int = 1 << 20) -> Iterator[bytes]:
        """The central directory and the records that end the zip: its last bytes."""
        start, size, count = self._offset, self._directory.tell(), self._count
        self._directory.seek(0)
        while data := self._directory.read(chunk):
            yield data
        tail = b""
        if count >= COUNT_LIMIT or start >= LIMIT or size >= LIMIT:
            tail += struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, ZIP64, ZIP64, 0, 0, count, count, size, start)
            tail += struct.pack("<IIQI", 0x07064B50, 0, start + size, 1)
        shown_count = min(count, COUNT_LIMIT)
        yield tail + struct.pack(
            "<IHHHHIIH", 0x06054B50, 0, 0, shown_count, shown_count, min(size, LIMIT), min(start, LIMIT), 0
        )
