"""Is a JPEG file complete? Finding the truncation that decoders paint over in grey.

libjpeg (behind Pillow and imagecodecs) decodes a JPEG whose entropy-coded data stops
early by filling the missing blocks with zeros, a flat grey, and only warns; with an end
marker (EOI) appended to the cut file not even Pillow's "image file is truncated" error
fires. :func:`jpeg_truncation` finds such files from their structure, without decoding
pixels:

- baseline and extended sequential Huffman JPEGs (SOF0, SOF1; nearly every camera and
  export JPEG): every scan's Huffman codes are walked (numba) and must hold every MCU of
  the frame, each restart interval its share;
- progressive Huffman JPEGs (SOF2): the scans present must, together, carry every
  coefficient of every component to full precision (a cut file lacks the last scans), and
  the AC scans are walked (first and refinement scans, numba) so that a cut inside the
  last scan is found too. Every scan but the last is known to be complete, which checks
  the walk itself: when one of them comes up short, nothing is judged (DC scans are not
  walked; a cut in one shows as missing later scans);
- a file that ends before its end marker, or inside a marker segment.

Other codings (lossless, arithmetic) are not checked.

Reference: ITU-T T.81 (JPEG), Annex B (syntax), F.2.2.3 (Huffman decoding), G.1.1
(progressive scans).
"""

from __future__ import annotations

import math
import struct

import numba
import numpy as np

__all__ = ["jpeg_truncation"]

_SOF_SEQUENTIAL = (0xC0, 0xC1)
_SOF_PROGRESSIVE = 0xC2
_SOF_OTHER = (0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF)
_RST = range(0xD0, 0xD8)


class _Truncated(Exception):
    """Internal: the reason a JPEG is incomplete."""


def _huffman_table(counts: bytes, values: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                          np.ndarray]:
    """T.81 F.2.2.3 decoding tables: ``maxcode[1..16]``, ``valptr``, ``mincode``, values."""
    maxcode = np.full(18, -1, np.int32)
    valptr = np.zeros(17, np.int32)
    mincode = np.zeros(17, np.int32)
    code = 0
    index = 0
    for length in range(1, 17):
        n = counts[length - 1]
        if n:
            valptr[length] = index
            mincode[length] = code
            code += n
            index += n
            maxcode[length] = code - 1
        code <<= 1
    maxcode[17] = 0x7FFFFFFF  # sentinel: no code is longer than 16 bits
    huffval = np.zeros(256, np.int32)
    huffval[: len(values)] = np.frombuffer(values, np.uint8)
    return maxcode, valptr, mincode, huffval


_LOOKAHEAD = 9  # bits: codes no longer than this are decoded by one table look-up


def _lookup_table(maxcode: np.ndarray, valptr: np.ndarray, mincode: np.ndarray,
                  huffval: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(length, symbol)`` of every code of up to ``_LOOKAHEAD`` bits, indexed by the next
    ``_LOOKAHEAD`` bits of the data (length 0: a longer code)."""
    lengths = np.zeros(1 << _LOOKAHEAD, np.int32)
    symbols = np.zeros(1 << _LOOKAHEAD, np.int32)
    for length in range(1, _LOOKAHEAD + 1):
        if maxcode[length] < 0:
            continue
        for code in range(int(mincode[length]), int(maxcode[length]) + 1):
            first = code << (_LOOKAHEAD - length)
            last = first + (1 << (_LOOKAHEAD - length))
            lengths[first:last] = length
            symbols[first:last] = huffval[valptr[length] + code - mincode[length]]
    return lengths, symbols


@numba.njit(cache=True, nogil=True)
def _count_mcus(data, n_mcus, dc_of_block, ac_of_block, lengths, symbols, maxcode, valptr,
                mincode, huffval):  # pragma: no cover - compiled
    """How many of ``n_mcus`` MCUs the (unstuffed) entropy-coded ``data`` holds in full.

    Bits are read through a 56-bit accumulator; Huffman codes of up to ``_LOOKAHEAD`` bits
    by one table look-up, longer ones bit by bit (T.81 F.2.2.3). Returns -1 when a code is
    invalid (corrupt data rather than a cut).
    """
    mask = (1 << 56) - 1
    acc = 0  # holds the next ``nbits`` bits of the data in its low bits
    nbits = 0
    position = 0
    size = data.size
    for mcu in range(n_mcus):
        for block in range(dc_of_block.size):
            k = 0
            while k < 64:
                table = dc_of_block[block] if k == 0 else ac_of_block[block]
                while nbits <= 48 and position < size:
                    acc = ((acc << 8) | data[position]) & mask
                    position += 1
                    nbits += 8
                symbol = -1
                if nbits >= _LOOKAHEAD:
                    look = (acc >> (nbits - _LOOKAHEAD)) & ((1 << _LOOKAHEAD) - 1)
                    length = lengths[table, look]
                    if length > 0:
                        nbits -= length
                        symbol = symbols[table, look]
                if symbol < 0:
                    code = 0
                    for length in range(1, 17):
                        if nbits == 0:
                            return mcu
                        code = (code << 1) | ((acc >> (nbits - 1)) & 1)
                        nbits -= 1
                        if code <= maxcode[table, length]:
                            symbol = huffval[table, valptr[table, length] + code
                                             - mincode[table, length]]
                            break
                    if symbol < 0:
                        return -1
                if k == 0:
                    extra = symbol  # DC: the category is the number of extra bits
                    k = 1
                else:
                    run, extra = symbol >> 4, symbol & 15
                    if extra == 0:
                        if run != 15:
                            break  # end of block
                        k += 16
                        continue
                    k += run + 1
                while nbits < extra and position < size:
                    acc = ((acc << 8) | data[position]) & mask
                    position += 1
                    nbits += 8
                if nbits < extra:
                    return mcu
                nbits -= extra
    return n_mcus


@numba.njit(cache=True, nogil=True)
def _bits(data, acc, nbits, position, count):  # pragma: no cover - compiled
    """``count`` bits: ``(value, acc, nbits, position)``; value -1 past the end."""
    while nbits < count and position < data.size:
        acc = ((acc << 8) | data[position]) & ((1 << 56) - 1)
        position += 1
        nbits += 8
    if nbits < count:
        return -1, acc, nbits, position
    nbits -= count
    return (acc >> nbits) & ((1 << count) - 1), acc, nbits, position


@numba.njit(cache=True, nogil=True)
def _symbol(data, acc, nbits, position, lengths, symbols, maxcode, valptr, mincode,
            huffval):  # pragma: no cover - compiled
    """One Huffman symbol: ``(symbol, acc, nbits, position)``; -1 past the end, -2 invalid."""
    while nbits <= 48 and position < data.size:
        acc = ((acc << 8) | data[position]) & ((1 << 56) - 1)
        position += 1
        nbits += 8
    if nbits >= _LOOKAHEAD:
        look = (acc >> (nbits - _LOOKAHEAD)) & ((1 << _LOOKAHEAD) - 1)
        length = lengths[look]
        if length > 0:
            return symbols[look], acc, nbits - length, position
    code = 0
    for length in range(1, 17):
        if nbits == 0:
            return -1, acc, nbits, position
        code = (code << 1) | ((acc >> (nbits - 1)) & 1)
        nbits -= 1
        if code <= maxcode[length]:
            return huffval[valptr[length] + code - mincode[length]], acc, nbits, position
    return -2, acc, nbits, position


@numba.njit(cache=True, nogil=True)
def _progressive_ac(data, n_blocks, first, nonzero, start, end, refine, lengths, symbols,
                    maxcode, valptr, mincode, huffval):  # pragma: no cover - compiled
    """How many of ``n_blocks`` blocks a progressive AC scan's ``data`` (one restart
    interval, unstuffed) holds in full (T.81 G.1.2.2, as libjpeg's jdphuff decodes it).

    ``nonzero[block, k]`` (zig-zag order) records which coefficients earlier scans made
    non-zero: a refinement scan reads one correction bit for each. Returns -1 for a code
    that cannot be (corrupt data, or a layout this check does not follow).
    """
    acc = 0
    nbits = 0
    position = 0
    eobrun = 0
    for b in range(n_blocks):
        block = first + b
        k = start
        if not refine:
            if eobrun > 0:
                eobrun -= 1
                continue
            while k <= end:
                rs, acc, nbits, position = _symbol(data, acc, nbits, position, lengths,
                                                   symbols, maxcode, valptr, mincode, huffval)
                if rs == -2:
                    return -1
                if rs < 0:
                    return b
                run, size = rs >> 4, rs & 15
                if size:
                    k += run
                    if k > 63:
                        return -1
                    value, acc, nbits, position = _bits(data, acc, nbits, position, size)
                    if value < 0:
                        return b
                    nonzero[block, k] = True
                    k += 1
                elif run < 15:
                    eobrun = 1 << run
                    if run:
                        value, acc, nbits, position = _bits(data, acc, nbits, position, run)
                        if value < 0:
                            return b
                        eobrun += value
                    eobrun -= 1
                    break
                else:
                    k += 16
            continue
        if eobrun == 0:
            while k <= end:
                rs, acc, nbits, position = _symbol(data, acc, nbits, position, lengths,
                                                   symbols, maxcode, valptr, mincode, huffval)
                if rs == -2:
                    return -1
                if rs < 0:
                    return b
                run, size = rs >> 4, rs & 15
                if size:
                    if size != 1:
                        return -1
                    value, acc, nbits, position = _bits(data, acc, nbits, position, 1)
                    if value < 0:
                        return b
                elif run != 15:
                    eobrun = 1 << run
                    if run:
                        value, acc, nbits, position = _bits(data, acc, nbits, position, run)
                        if value < 0:
                            return b
                        eobrun += value
                    break
                while k <= end:
                    if nonzero[block, k]:
                        value, acc, nbits, position = _bits(data, acc, nbits, position, 1)
                        if value < 0:
                            return b
                    else:
                        if run == 0:
                            break
                        run -= 1
                    k += 1
                if size:
                    if k > 63:
                        return -1
                    nonzero[block, k] = True
                k += 1
        if eobrun > 0:
            while k <= end:
                if nonzero[block, k]:
                    value, acc, nbits, position = _bits(data, acc, nbits, position, 1)
                    if value < 0:
                        return b
                k += 1
            eobrun -= 1
    return n_blocks


def _entropy_segments(data: bytes, start: int) -> tuple[list[bytes], int]:
    """The entropy-coded data after an SOS header, split at restart markers and unstuffed.

    Returns:
        ``(segments, end)``: ``end`` is the index of the marker that ends the scan.
    """
    segments = []
    position = begin = start
    while True:
        found = data.find(b"\xff", position)
        if found < 0 or found + 1 >= len(data):
            raise _Truncated("the file ends inside the image data, before the end marker")
        following = data[found + 1]
        if following == 0x00 or following == 0xFF:
            position = found + 1 if following == 0xFF else found + 2
            continue
        segments.append(data[begin:found].replace(b"\xff\x00", b"\xff"))
        if following in _RST:
            position = begin = found + 2
            continue
        return segments, found


def _check_sequential(frame: dict, scan: list[tuple[int, int, int]], segments: list[bytes],
                      tables: dict, restart: int) -> None:
    """Every MCU of a sequential scan must be present (each restart interval its share)."""
    components = frame["components"]
    h_max = max(c[1] for c in components.values())
    v_max = max(c[2] for c in components.values())
    width, height = frame["width"], frame["height"]
    if len(scan) == 1:  # non-interleaved: one block per MCU, the component's own grid
        cid = scan[0][0]
        h, v = components[cid][1], components[cid][2]
        blocks_x = math.ceil(math.ceil(width * h / h_max) / 8)
        blocks_y = math.ceil(math.ceil(height * v / v_max) / 8)
        total, layout = blocks_x * blocks_y, [scan[0]]
    else:
        total = math.ceil(width / (8 * h_max)) * math.ceil(height / (8 * v_max))
        layout = [entry for entry in scan
                  for _ in range(components[entry[0]][1] * components[entry[0]][2])]
    keys = sorted(tables)
    if not keys:
        raise _Truncated("no Huffman tables")
    index = {key: i for i, key in enumerate(keys)}
    try:
        dc = np.array([index[(0, entry[1])] for entry in layout], np.int64)
        ac = np.array([index[(1, entry[2])] for entry in layout], np.int64)
    except KeyError:
        raise _Truncated("a scan uses a Huffman table the file does not define") from None
    maxcode = np.stack([tables[k][0] for k in keys])
    valptr = np.stack([tables[k][1] for k in keys])
    mincode = np.stack([tables[k][2] for k in keys])
    huffval = np.stack([tables[k][3] for k in keys])
    lookups = [_lookup_table(*tables[k]) for k in keys]
    lengths = np.stack([lookup[0] for lookup in lookups])
    symbols = np.stack([lookup[1] for lookup in lookups])
    per_segment = restart if restart else total
    remaining = total
    for number, segment in enumerate(segments):
        if remaining <= 0:
            break
        wanted = min(per_segment, remaining)
        found = _count_mcus(np.frombuffer(segment, np.uint8), wanted, dc, ac, lengths,
                            symbols, maxcode, valptr, mincode, huffval)
        if found < 0:
            raise _Truncated(f"corrupt image data (invalid Huffman code in restart "
                             f"interval {number})")
        if found < wanted:
            done = total - remaining + found
            raise _Truncated(f"image data ends after {done} of {total} blocks "
                             f"({100 * done / total:.0f}%)")
        remaining -= wanted
    if remaining > 0:
        done = total - remaining
        raise _Truncated(f"image data ends after {done} of {total} blocks "
                         f"({100 * done / total:.0f}%)")


def _component_blocks(frame: dict, cid: int) -> tuple[int, int]:
    """``(blocks across, blocks down)`` of a component on its own (non-interleaved) grid."""
    components = frame["components"]
    h_max = max(c[1] for c in components.values())
    v_max = max(c[2] for c in components.values())
    _, h, v, _ = components[cid]
    return (math.ceil(math.ceil(frame["width"] * h / h_max) / 8),
            math.ceil(math.ceil(frame["height"] * v / v_max) / 8))


def _progressive_scan(frame: dict, scan: list[tuple[int, int, int]],
                      spectral: tuple[int, int, int, int], segments: list[bytes],
                      tables: dict, restart: int,
                      nonzero: dict[int, np.ndarray]) -> tuple[int, int] | None:
    """Decode a progressive AC scan: ``(blocks done, blocks in all)``, or None when it
    cannot be followed (a DC scan is not decoded: ``(0, 0)``)."""
    start, end, high, _ = spectral
    if start == 0:
        return 0, 0  # DC scans are not decoded; later scans show a cut in them
    if len(scan) != 1 or end < start:
        return None
    cid, _, ac_slot = scan[0]
    if (1, ac_slot) not in tables or cid not in nonzero:
        return None
    maxcode, valptr, mincode, huffval = tables[(1, ac_slot)]
    lengths, symbols = _lookup_table(maxcode, valptr, mincode, huffval)
    across, down = _component_blocks(frame, cid)
    total = across * down
    per_segment = restart if restart else total
    done = 0
    for segment in segments:
        if done >= total:
            break
        wanted = min(per_segment, total - done)
        found = _progressive_ac(np.frombuffer(segment, np.uint8), wanted, done, nonzero[cid],
                                start, end, high > 0, lengths, symbols, maxcode, valptr,
                                mincode, huffval)
        if found < 0:
            return None
        done += found
        if found < wanted:
            break
    return done, total


def jpeg_truncation(data: bytes) -> str | None:
    """Why a JPEG file's data is incomplete, or None when it is complete (or not checked).

    Args:
        data: the whole file.

    Returns:
        A short reason (``image data ends after 410 of 1200 blocks (34%)``...) or None;
        a structure this check does not understand is left to the decoder (None).
    """
    try:
        _check(data)
    except _Truncated as reason:
        return str(reason)
    except (IndexError, KeyError, ValueError, struct.error, ZeroDivisionError):
        return None  # a layout this check does not understand: the decoder judges it
    return None


def _check(data: bytes) -> None:
    if not data.startswith(b"\xff\xd8"):
        return  # not a JPEG: the decoder says so
    position = 2
    tables: dict[tuple[int, int], tuple] = {}
    frame: dict | None = None
    restart = 0
    coverage: dict[int, np.ndarray] = {}  # progressive: lowest bit reached per coefficient
    while True:
        while position < len(data) and data[position] == 0xFF and position + 1 < len(data) \
                and data[position + 1] == 0xFF:
            position += 1  # fill bytes
        if position + 2 > len(data):
            raise _Truncated("the file ends before its end marker")
        if data[position] != 0xFF:
            return  # garbage between segments: leave it to the decoder
        marker = data[position + 1]
        position += 2
        if marker == 0xD9:  # EOI
            break
        if marker in _RST or marker in (0x01, 0xD8):
            continue
        if position + 2 > len(data):
            raise _Truncated("the file ends inside a marker segment")
        (length,) = struct.unpack(">H", data[position:position + 2])
        segment = data[position + 2:position + length]
        if length < 2 or position + length > len(data):
            raise _Truncated("the file ends inside a marker segment")
        position += length
        if marker in _SOF_OTHER:
            return  # lossless or arithmetic coding: not checked
        if marker in _SOF_SEQUENTIAL or marker == _SOF_PROGRESSIVE:
            frame = _parse_frame(segment, marker)
            coverage = {cid: np.full(64, 99, np.int32) for cid in frame["components"]}
            nonzero = {cid: np.zeros((math.prod(_component_blocks(frame, cid)), 64), bool)
                       for cid in frame["components"]} if marker == _SOF_PROGRESSIVE else {}
            results: list[tuple[int, int] | None] = []
        elif marker == 0xC4:
            _parse_huffman(segment, tables)
        elif marker == 0xDD and len(segment) >= 2:
            (restart,) = struct.unpack(">H", segment[:2])
        elif marker == 0xDA:
            if frame is None:
                return
            scan, spectral = _parse_scan(segment)
            segments, position = _entropy_segments(data, position)
            if frame["marker"] == _SOF_PROGRESSIVE:
                start, end, _, low = spectral
                for cid, _, _ in scan:
                    if cid in coverage:
                        coverage[cid][start:end + 1] = low
                results.append(_progressive_scan(frame, scan, spectral, segments, tables,
                                                 restart, nonzero))
            else:
                _check_sequential(frame, scan, segments, tables, restart)
    if frame is not None and frame["marker"] == _SOF_PROGRESSIVE:
        for cid, lowest in coverage.items():
            if lowest.max() > 0:
                raise _Truncated(f"progressive scans are missing (component {cid} is not "
                                 "complete); the file was cut and an end marker appended")
        # Every scan but the last is known to be complete (another scan follows it): if
        # one of them comes up short, this check cannot follow the file; judge nothing.
        if any(result is None or result[0] < result[1] for result in results[:-1]):
            return
        if results and results[-1] is not None and results[-1][0] < results[-1][1]:
            done, total = results[-1]
            raise _Truncated(f"the last progressive scan ends after {done} of {total} blocks "
                             f"({100 * done / total:.0f}%)")


def _parse_frame(segment: bytes, marker: int) -> dict:
    if len(segment) < 6:
        raise _Truncated("a damaged frame header")
    height, width, count = struct.unpack(">HHB", segment[1:6])
    components = {}
    for i in range(count):
        part = segment[6 + 3 * i:9 + 3 * i]
        if len(part) < 3:
            raise _Truncated("a damaged frame header")
        cid, sampling, table = part
        components[cid] = (cid, max(sampling >> 4, 1), max(sampling & 15, 1), table)
    if not components or width == 0 or height == 0:
        raise _Truncated("a damaged frame header")
    return {"marker": marker, "width": width, "height": height, "components": components}


def _parse_huffman(segment: bytes, tables: dict) -> None:
    position = 0
    while position + 17 <= len(segment):
        kind, slot = segment[position] >> 4, segment[position] & 15
        counts = segment[position + 1:position + 17]
        n = sum(counts)
        values = segment[position + 17:position + 17 + n]
        if len(values) < n or n > 256:
            raise _Truncated("a damaged Huffman table")
        tables[(kind, slot)] = _huffman_table(counts, values)
        position += 17 + n


def _parse_scan(segment: bytes) -> tuple[list[tuple[int, int, int]], tuple[int, int, int, int]]:
    if not segment:
        raise _Truncated("a damaged scan header")
    count = segment[0]
    scan = []
    for i in range(count):
        part = segment[1 + 2 * i:3 + 2 * i]
        if len(part) < 2:
            raise _Truncated("a damaged scan header")
        scan.append((part[0], part[1] >> 4, part[1] & 15))
    tail = segment[1 + 2 * count:4 + 2 * count]
    if len(tail) < 3:
        raise _Truncated("a damaged scan header")
    start, end, approx = tail
    return scan, (start, min(end, 63), approx >> 4, approx & 15)
