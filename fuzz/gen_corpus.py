#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets: fuzz/corpus/<target>/.

Usage: python3 gen_corpus.py [directory]   (default: corpus next to this
script).  The files are named after what they hold; the input formats are
described at the top of each fuzz_<target>.c.
"""

import os
import struct
import sys

MASK = b'\x37\xfa\x21\x3d'


def frame(op, payload=b'', fin=True, mask=MASK, masked=True, rsv=0,
          form=None):
    """A client frame; form forces the length encoding (7, 16 or 64)."""
    b0 = (0x80 if fin else 0) | rsv | op
    n = len(payload)
    if form is None:
        form = 7 if n < 126 else 16 if n < 65536 else 64
    mbit = 0x80 if masked else 0
    if form == 7:
        h = bytes([b0, mbit | n])
    elif form == 16:
        h = bytes([b0, mbit | 126]) + struct.pack('>H', n)
    else:
        h = bytes([b0, mbit | 127]) + struct.pack('>Q', n)
    if not masked:
        return h + payload
    body = bytes(c ^ mask[i % 4] for i, c in enumerate(payload))
    return h + mask + body


def frame_input(stream, flags=0, max_size=0xffff, reads=(), send=0):
    """flags: 1 closing, 2 lazy send, 4 max << 8, 8 unlimited, 16 reads*64,
    32 free list kept, 64 the pair breaks after the reads, 128 two messages
    at most; send n: the peer sends 2 << 2n bytes at a time (0: all)"""
    reads = list(reads)[:31]
    return (bytes([flags, (max_size >> 8) & 0xff, max_size & 0xff,
                   len(reads) | (send << 5)])
            + bytes(r - 1 for r in reads) + stream)


def text(s):
    return frame(1, s.encode() if isinstance(s, str) else s)


def frame_seeds():
    big = bytes((i * 7) % 256 for i in range(20000))
    s = {}
    s['text'] = frame_input(text('hello'))
    s['binary-126'] = frame_input(frame(2, bytes(range(200))))
    s['empty-text'] = frame_input(text(''))
    s['empty-binary'] = frame_input(frame(2, b''))
    s['fragmented'] = frame_input(
        frame(1, b'hel', fin=False) + frame(0, b'', fin=False)
        + frame(0, b'lo'))
    s['ping-between-fragments'] = frame_input(
        frame(2, b'ab', fin=False) + frame(9, b'p') + frame(0, b'cd'))
    s['pong'] = frame_input(frame(10, b'pong') + text('after'))
    s['close-1000'] = frame_input(frame(8, b'\x03\xe8bye') + text('x'))
    s['close-empty'] = frame_input(frame(8))
    s['ping-125'] = frame_input(frame(9, b'P' * 125))
    s['rsv'] = frame_input(frame(1, b'x', rsv=0x40))
    s['unmasked'] = frame_input(frame(1, b'x', masked=False))
    s['opcode-3'] = frame_input(frame(3, b'x'))
    s['opcode-11'] = frame_input(frame(11, b''))
    s['control-fragmented'] = frame_input(frame(9, b'x', fin=False))
    s['control-126'] = frame_input(frame(9, b'x' * 126))
    s['continuation-first'] = frame_input(frame(0, b'x'))
    s['text-in-message'] = frame_input(
        frame(1, b'a', fin=False) + frame(1, b'b'))
    s['utf8-invalid'] = frame_input(text(b'ok \xc3\x28'))
    s['utf8-split'] = frame_input(
        frame(1, b'\xe2\x9c', fin=False) + frame(0, b'\x93 \xf0\x9d')
        + frame(0, b'\x84\x9e'))
    s['utf8-truncated'] = frame_input(text(b'abc\xe2\x9c'))
    s['utf8-truncated-empty-end'] = frame_input(
        frame(1, b'he\xeb', fin=False) + frame(0, b'', fin=False)
        + frame(0, b''), flags=0x02 | 0x08)
    s['utf8-surrogate'] = frame_input(text(b'\xed\xa0\x80'))
    s['utf8-bytewise'] = frame_input(
        text('h\u00e9llo \u2713 \U0001d11e'), reads=[1] * 31)
    s['too-big'] = frame_input(frame(2, b'x' * 20), max_size=10)
    s['too-big-continuation'] = frame_input(
        frame(2, b'x' * 8, fin=False) + frame(0, b'x' * 8), max_size=10)
    s['len64-high-bit'] = frame_input(
        bytes([0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1]) + MASK + b'x')
    s['len64-small'] = frame_input(frame(2, b'abc', form=64))
    s['len16-small'] = frame_input(frame(2, b'abc', form=16))
    s['big-pieces'] = frame_input(frame(2, big), flags=0x04 | 0x10,
                                  max_size=0x100, reads=[16, 16, 3, 200])
    s['big-text-lazy'] = frame_input(
        frame(1, b'abcdefgh' * 3000), flags=0x02 | 0x04 | 0x10,
        max_size=0x100, reads=[5, 100, 1, 64])
    s['many-small-lazy'] = frame_input(
        b''.join(text('hi %d' % i) for i in range(1500)), flags=0x02,
        reads=[255] * 31)
    s['many-small-reads'] = frame_input(
        b''.join(frame(2, bytes([i]) * (i % 40)) for i in range(200)),
        reads=[(i * 37) % 256 + 1 for i in range(31)])
    s['discard'] = frame_input(
        text(b'\xff bad but discarded') + frame(9, b'p')
        + frame(8, b'\x03\xe8'), flags=0x01)
    s['unlimited'] = frame_input(
        frame(2, b'x' * 10, fin=False) + frame(0, b'y' * 10), flags=0x08)
    s['after-invalid-text'] = frame_input(
        text(b'\xff\xfe') + frame(9, b'p') + frame(8, b'\x03\xe9'))
    s['header-split'] = frame_input(
        frame(2, b'z' * 300) + frame(1, b'q' * 70000, form=64)[:40],
        flags=0x04, max_size=0x200, reads=[1, 1, 1, 1, 1, 1, 2, 3])
    # the peer sends a little at a time: frames move down (room()'s memmove)
    s['partial-sends'] = frame_input(
        b''.join(frame(2, bytes([i]) * 200) for i in range(100)),
        reads=[200] * 31, send=1)
    s['partial-sends-big'] = frame_input(
        frame(2, big) + text('after'), flags=0x04 | 0x10, max_size=0x100,
        reads=[20, 1, 30, 2, 100], send=4)
    s['lazy-partial'] = frame_input(
        b''.join(text('message %d' % i) for i in range(2000)), flags=0x02,
        reads=[256] * 31, send=3)
    # the pair breaks: handover(), then the session only closes
    s['break-between-messages'] = frame_input(
        text('one') + text('two') + frame(9, b'p') + text('three'),
        flags=0x40, reads=[9, 9])
    s['break-mid-message'] = frame_input(
        frame(1, b'a' * 100, fin=False) + frame(0, b'b' * 100)
        + frame(2, b'c' * 300) + frame(8, b'\x03\xe8'),
        flags=0x40, reads=[50, 70])
    s['break-mid-header'] = frame_input(
        text('x') + frame(2, b'y' * 1000) + frame(8), flags=0x40,
        max_size=10, reads=[7, 2])
    s['break-at-start'] = frame_input(
        frame(2, b'z' * 30) + frame(8, b'\x03\xe8'), flags=0x40)
    s['break-at-end'] = frame_input(
        text('unsent') + frame(2, b'w' * 10, fin=False), flags=0x40 | 0x02)
    s['break-blocked'] = frame_input(
        frame(2, big) + frame(8), flags=0x40 | 0x02 | 0x04 | 0x10,
        max_size=0x100, reads=[200, 200], send=1)
    # signaller_max_messages: closing in the middle of a read
    s['max-messages'] = frame_input(
        text('a') + text('b') + text('c') + frame(8, b'\x03\xe8'),
        flags=0x80)
    s['max-messages-fragments'] = frame_input(
        frame(1, b'a', fin=False) + frame(9) + frame(0, b'b')
        + frame(2, b'c') + frame(2, b'd' * 300), flags=0x80, reads=[3, 5])
    # buffers given back to the free list and taken again
    s['free-list'] = frame_input(
        b''.join(text('m%d' % i) for i in range(40)), flags=0x20,
        reads=[(i % 3) * 4 + 4 for i in range(31)])
    # what follows the client's close is parsed, closing, but not compared
    s['close-then-frames'] = frame_input(
        frame(8, b'\x03\xe8') + text('late') + frame(1, b'\xff')
        + frame(8))
    s['close-bad-code-then-close'] = frame_input(
        frame(8, b'\x03\xe7') + frame(9, b'p') + frame(8, b'\x03\xe8'))
    s['closes-full-buffer'] = frame_input(
        frame(8) * 4000, flags=0x10, reads=[255, 255, 1])
    return s


def utf8_input(data, splits=()):
    splits = list(splits)[:15]
    return bytes([len(splits)] + splits) + data


def utf8_seeds():
    s = {}
    s['ascii'] = utf8_input(b'hello, world: 0123456789 ABCDEF')
    s['ascii-long'] = utf8_input(b'abcdefgh' * 8 + b'!', [3, 8, 17])
    s['two-byte'] = utf8_input('h\u00e9llo \u00ff'.encode())
    s['three-byte'] = utf8_input('\u2713 \u0800 \uffff \ud7ff'.encode(
        'utf-8', 'surrogatepass'))
    s['four-byte'] = utf8_input('\U0001d11e \U00010000 \U0010ffff'.encode())
    s['mixed-split'] = utf8_input(
        'a\u00e9\u2713\U0001d11e'.encode() * 4, [1, 2, 1, 3, 4, 1, 1, 5])
    s['split-every-byte'] = utf8_input(
        '\U0001d11e\u2713'.encode(), [1] * 7)
    s['overlong-c0'] = utf8_input(b'\xc0\x80')
    s['overlong-c1'] = utf8_input(b'ab\xc1\xbf')
    s['overlong-e0'] = utf8_input(b'\xe0\x80\x80')
    s['overlong-e0-9f'] = utf8_input(b'\xe0\x9f\xbf', [1, 1])
    s['overlong-f0'] = utf8_input(b'\xf0\x8f\xbf\xbf', [2])
    s['surrogate'] = utf8_input(b'\xed\xa0\x80', [1])
    s['surrogate-high'] = utf8_input(b'x\xed\xbf\xbf')
    s['ed-9f'] = utf8_input(b'\xed\x9f\xbf')
    s['above-max'] = utf8_input(b'\xf4\x90\x80\x80', [1, 1])
    s['f5'] = utf8_input(b'\xf5\x80\x80\x80')
    s['ff'] = utf8_input(b'abcdefgh\xff')
    s['lone-continuation'] = utf8_input(b'abc\x80def')
    s['truncated-2'] = utf8_input(b'\xc3')
    s['truncated-3'] = utf8_input(b'\xe2\x9c', [1])
    s['truncated-4'] = utf8_input(b'\xf0\x9d\x84', [2])
    s['bad-continuation'] = utf8_input(b'\xe2\x28\xa1')
    s['long-then-bad'] = utf8_input(b'x' * 64 + b'\xe2\x9c\x93' + b'\xc3',
                                    [60, 5])
    s['close-1000'] = utf8_input(b'\x03\xe8bye')
    s['close-4000'] = utf8_input(b'\x0f\xa0reason \u2713'.replace(
        b'\\u2713', '\u2713'.encode()))
    s['close-1005'] = utf8_input(b'\x03\xed')
    s['close-1001'] = utf8_input(b'\x03\xe9')
    s['close-1009'] = utf8_input(b'\x03\xf1')
    s['close-4003'] = utf8_input(b'\x0f\xa3')
    s['close-999'] = utf8_input(b'\x03\xe7')
    s['close-bad-reason'] = utf8_input(b'\x03\xe8\xff')
    s['close-one-byte'] = utf8_input(b'\x03')
    s['empty'] = utf8_input(b'')
    return s


KEY = 'dGhlIHNhbXBsZSBub25jZQ=='


def hs_input(flags, headers, uri='/signal/listen/abc'):
    """the URI (any bytes but newline), then the header lines"""
    if isinstance(uri, str):
        uri = uri.encode('latin-1')
    return (bytes([flags]) + uri + b'\n'
            + '\n'.join(headers).encode('latin-1'))


def hs_seeds():
    ok = ['Host: example.com', 'Upgrade: websocket', 'Connection: Upgrade',
          'Sec-WebSocket-Version: 13', 'Sec-WebSocket-Key: ' + KEY]
    s = {}
    s['valid'] = hs_input(0, ok)
    s['valid-origin'] = hs_input(0, ok + ['Origin: https://example.com'])
    s['valid-origin-case'] = hs_input(0, ok + ['Origin: HTTP://Example.COM'])
    s['origin-port'] = hs_input(0, ok + ['Origin: https://example.com:8443'])
    s['origin-other'] = hs_input(0, ok + ['Origin: https://evil.example'])
    s['origin-no-scheme'] = hs_input(0, ok + ['Origin: example.com'])
    s['origin-null'] = hs_input(0, ok + ['Origin: null'])
    s['origin-no-host'] = hs_input(0, ok[1:] + ['Origin: https://a'])
    s['origin-two'] = hs_input(0, ok + ['Origin: https://example.com'] * 2)
    s['origin-any'] = hs_input(1, ok + ['Origin: https://evil.example'])
    s['origin-list'] = hs_input(2, ok + ['Origin: https://example.com'])
    s['origin-list-prefix'] = hs_input(3, ok + ['Origin: http://x.test'])
    s['origin-list-none'] = hs_input(2, ok)
    s['origin-list-miss'] = hs_input(2, ok + ['Origin: https://x.test'])
    s['post'] = hs_input(0x04, ok)
    s['http10'] = hs_input(0x08, ok)
    s['subrequest'] = hs_input(0x10, ok)
    s['http2'] = hs_input(0x20, ok)
    s['parts-1'] = hs_input(0x00, ok + ['X-A: 1', 'X-B: 2'])
    s['parts-2'] = hs_input(0x40, ok + ['X-A: 1'])
    s['parts-4'] = hs_input(0xc0, ['X-A: 1'] * 5 + ok)
    s['no-upgrade'] = hs_input(0, [h for h in ok if 'Upgrade:' not in h])
    s['upgrade-list'] = hs_input(
        0, ['Upgrade: h2c, WebSocket ,x'] + ok[2:] + ok[:1])
    s['upgrade-split'] = hs_input(
        0, ['Upgrade: h2c', 'Upgrade: websocket'] + ok[2:])
    s['upgrade-substring'] = hs_input(0, ['Upgrade: websockets'] + ok[2:])
    s['connection-list'] = hs_input(
        0, ok[:2] + ['Connection: keep-alive,\tupgrade'] + ok[3:])
    s['connection-empty-items'] = hs_input(
        0, ok[:2] + ['Connection: ,, ,Upgrade,'] + ok[3:])
    s['no-connection'] = hs_input(0, ok[:2] + ok[3:])
    s['version-8'] = hs_input(0, ok[:3] + ['Sec-WebSocket-Version: 8']
                              + ok[4:])
    s['version-two'] = hs_input(0, ok + ['Sec-WebSocket-Version: 8'])
    s['version-13-list'] = hs_input(
        0, ok[:3] + ['Sec-WebSocket-Version: 13, 8'] + ok[4:])
    s['no-version'] = hs_input(0, ok[:3] + ok[4:])
    s['no-key'] = hs_input(0, ok[:4])
    s['key-two'] = hs_input(0, ok + ['Sec-WebSocket-Key: ' + KEY])
    s['key-short'] = hs_input(0, ok[:4] + ['Sec-WebSocket-Key: dGhl=='])
    s['key-no-padding'] = hs_input(
        0, ok[:4] + ['Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQAA'])
    s['key-bad-char'] = hs_input(
        0, ok[:4] + ['Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZ!=='])
    s['key-url-safe'] = hs_input(
        0, ok[:4] + ['Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25j_-=='])
    s['key-3-pad'] = hs_input(
        0, ok[:4] + ['Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZ==='])
    s['name-case'] = hs_input(0, [h.upper() if i % 2 else h.lower()
                                  for i, h in enumerate(ok)])
    s['no-colon'] = hs_input(0, ['Upgrade'] + ok)
    s['empty'] = hs_input(0, [])
    s['empty-input'] = bytes([0])
    # route(): ".../listen/<handle>" or ".../connect/<handle>", the handle
    # ^[a-z](?:_?[a-z0-9]){2,31}$
    a31 = 'abcdefghijklmnopqrstuvwxyz01234'
    routes = {
        'listen': '/listen/abc',
        'connect': '/connect/abc',
        'prefix': '/signal/listen/abc',
        'prefix-deep': '/a/b/c/connect/room42',
        'no-slash-first': 'listen/abc',
        'double-slash': '//listen/abc',
        'empty-verb': '//abc',
        'handle-2': '/listen/ab',
        'handle-3': '/listen/a12',
        'handle-32': '/connect/a' + a31,
        'handle-33': '/connect/a' + a31 + 'x',
        'handle-63': '/listen/a' + ''.join('_' + c for c in a31),
        'handle-64': '/listen/a' + ''.join('_' + c for c in a31) + 'x',
        'underscore-after-first': '/listen/a_bc',
        'underscore-inner': '/listen/ab_c_d',
        'underscore-two': '/listen/ab__c',
        'underscore-trailing': '/listen/abc_',
        'underscore-first': '/listen/_abc',
        'underscores-only-units': '/listen/a_b',
        'digit-first': '/listen/1abc',
        'upper': '/listen/Abc',
        'upper-inner': '/connect/abC',
        'dash': '/listen/ab-c',
        'trailing-slash': '/listen/abc/',
        'no-handle': '/listen/',
        'verb-only': '/listen',
        'handle-only': '/abc',
        'slash': '/',
        'empty': '',
        'wrong-verb': '/join/abc',
        'verb-case': '/Listen/abc',
        'verb-plural': '/listens/abc',
        'verb-prefix': '/xlisten/abc',
        'verb-short': '/liste/abc',
        'connect-short': '/connec/abc',
        'verb-is-handle': '/listen/listen',
        'query-kept': '/listen/abc?x=1',
        'nul': b'/listen/ab\x00c',
        'cr': b'/connect/abc\r',
        'high-byte': b'/listen/ab\xe9c',
    }
    for k, v in routes.items():
        s['route-' + k] = hs_input(0, ok, uri=v)
    return s


HANDOFF = 0x01
REPORT = 0x02


def preamble(handle, ident=bytes(range(0xa0, 0xb0)), magic=b'SGNL',
             version=2, flags=0, hlen=None):
    """A preamble; hlen forces the length byte."""
    if hlen is None:
        hlen = len(handle)
    return magic + bytes([version, flags, hlen]) + ident + handle


def preamble_input(stream, reads=()):
    reads = list(reads)[:15]
    return bytes([len(reads)] + [r - 1 for r in reads]) + stream


def preamble_seeds():
    h3 = b'abc'
    h63 = bytes(b'abcdefghijklmnopqrstuvwxyz0123456789-_'[i % 38]
                for i in range(63))
    hr = HANDOFF | REPORT
    s = {}
    s['valid-min'] = preamble_input(preamble(h3))
    s['valid-max'] = preamble_input(preamble(h63, flags=hr))
    s['valid-mid'] = preamble_input(preamble(b'room-42.lobby',
                                             flags=HANDOFF))
    s['valid-binary-handle'] = preamble_input(
        preamble(b'\x00\xff\n\r ', ident=b'\x00' * 16, flags=hr))
    s['valid-max-bytewise'] = preamble_input(preamble(h63, flags=HANDOFF),
                                             [1] * 15)
    s['valid-split-header'] = preamble_input(
        preamble(b'handle', flags=hr), [2, 2, 1, 1, 1, 8, 8, 3])
    s['valid-split-handle'] = preamble_input(
        preamble(h63[:40]), [23, 1, 20, 255])
    s['valid-one-read'] = preamble_input(preamble(h63), [255])
    # every flags value: 0, HANDOFF, HANDOFF|REPORT are valid; REPORT
    # alone, or any other bit, is not (read up to the flags byte first)
    for v in (0, HANDOFF, REPORT, hr, 0x04, 0x05, 0x07, 0x80, 0x81, 0xff):
        s['flags-0x%02x' % v] = preamble_input(preamble(b'room', flags=v),
                                           [6, 1])
    s['prefix-magic'] = preamble_input(b'SG')
    s['prefix-version'] = preamble_input(b'SGNL\x02')
    s['prefix-flags'] = preamble_input(b'SGNL\x02\x03')
    s['prefix-flags-bad'] = preamble_input(b'SGNL\x02\x02')
    s['prefix-length'] = preamble_input(b'SGNL\x02\x01\x10')
    s['prefix-id'] = preamble_input(preamble(h3)[:15], [1, 3])
    s['prefix-handle'] = preamble_input(preamble(h63, flags=hr)[:-1],
                                        [40, 40])
    s['magic-wrong'] = preamble_input(preamble(h3, magic=b'SGNM'))
    s['magic-lower'] = preamble_input(preamble(h3, magic=b'sgnl'), [1, 1])
    s['magic-first-byte'] = preamble_input(b'X' + preamble(h3)[1:])
    s['version-0'] = preamble_input(preamble(h3, version=0))
    # version 1, the format before the flags byte: a whole one, and one
    # read up to its version byte
    s['version-1'] = preamble_input(
        b'SGNL' + bytes([1, 3]) + bytes(range(0xa0, 0xb0)) + h3, [5, 1])
    s['version-1-flags'] = preamble_input(preamble(h3, version=1,
                                                   flags=HANDOFF))
    s['version-3'] = preamble_input(preamble(h3, version=3), [5, 1])
    s['version-255'] = preamble_input(preamble(h3, version=255))
    s['length-0'] = preamble_input(preamble(b'', hlen=0))
    s['length-2'] = preamble_input(preamble(b'ab', flags=HANDOFF))
    s['length-64'] = preamble_input(preamble(h63 + b'x'))
    s['length-255'] = preamble_input(preamble(h63, hlen=255))
    s['length-short'] = preamble_input(preamble(b'abcdef', hlen=5))
    s['length-long'] = preamble_input(preamble(b'abcdef', hlen=7))
    s['trailing-byte'] = preamble_input(preamble(h3) + b'x')
    s['trailing-split'] = preamble_input(preamble(b'abcd') + b'SGNL',
                                         [27, 4])
    s['trailing-one-read'] = preamble_input(preamble(b'abcd') + b'tail')
    s['trailing-max'] = preamble_input(preamble(h63) + b'more', [86, 4])
    # the handover byte sent before the answer came
    s['trailing-handoff'] = preamble_input(
        preamble(b'abcd', flags=hr) + b'h', [27, 1])
    s['two-preambles'] = preamble_input(preamble(h3) + preamble(h63))
    s['empty'] = preamble_input(b'')
    return s


def report(code=1000, m_in=0, m_out=0, b_in=0, b_out=0, first=b'r'):
    return first + struct.pack('>HQQQQ', code, m_in, m_out, b_in, b_out)


def figures(code=1000, m_in=0, m_out=0, b_in=0, b_out=0):
    """The figures of fuzz_report.c's write test, after a report."""
    return struct.pack('>HQQQQ', code, m_in, m_out, b_in, b_out)


def report_seeds():
    big = 0xffffffffffffffff
    s = {}
    s['zero'] = report(code=0)
    s['normal'] = report(1000, 12, 34, 5678, 91011)
    s['code-1000'] = report(1000)
    s['code-1001'] = report(1001, 1, 1, 10, 10)
    s['code-1006'] = report(1006)
    s['code-4999'] = report(4999)
    s['code-1'] = report(1)
    s['code-999'] = report(999)
    s['code-5000'] = report(5000)
    s['code-65535'] = report(65535)
    s['code-0x03e8-le'] = report(0xe803)
    s['first-R'] = report(first=b'R')
    s['first-h'] = report(first=b'h')
    s['first-nul'] = report(first=b'\x00')
    s['counts-max'] = report(4000, big, big, big, big)
    s['bytes-high-bit'] = report(1000, 0, 0, 1 << 63, (1 << 63) | 1)
    s['bytes-off-max'] = report(1000, 0, 0, (1 << 63) - 1, (1 << 63) - 1)
    s['short'] = report()[:-1]
    s['write-normal'] = report() + figures(1000, 3, 4, 100, 200)
    s['write-zero'] = report(code=0) + figures(code=0)
    s['write-code-999'] = report() + figures(code=999)
    s['write-code-5000'] = report() + figures(code=5000, m_in=big)
    s['write-code-65535'] = report(5000) + figures(code=65535)
    s['write-max'] = report() + figures(4999, big, big, big, big)
    s['write-short'] = report() + figures()[:-1]
    return s


def write(base, name, seeds):
    d = os.path.join(base, name)
    os.makedirs(d, exist_ok=True)
    for f in os.listdir(d):
        os.unlink(os.path.join(d, f))
    for k, v in sorted(seeds.items()):
        with open(os.path.join(d, k), 'wb') as f:
            f.write(v)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    base = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, 'corpus')
    write(base, 'frame', frame_seeds())
    write(base, 'utf8', utf8_seeds())
    write(base, 'handshake', hs_seeds())
    write(base, 'preamble', preamble_seeds())
    write(base, 'report', report_seeds())


if __name__ == '__main__':
    main()
