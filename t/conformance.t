#!/usr/bin/perl

# RFC 6455 conformance, table-driven in the manner of the Autobahn test
# suite's categories 1-7: framing, ping/pong, reserved bits, opcodes,
# fragmentation, UTF-8 handling, close handling.
#
# Each row: the frames one client (the "sender") writes, in the TCP writes
# the row chooses, and everything that client and its peer then receive,
# as exact event lists (see Signaller::Conformance), through to the server
# closing TCP. Every row runs in each worker layout (same worker, crossing
# workers), once with the connector and once with the listener sending.
#
# CONFORMANCE_ONLY=<regex> runs only the rows whose names match.
#
# Pings: a pong answers each ping that arrives apart from the others; of
# pings that arrive together, RFC 6455 5.5.3 allows answering only the most
# recent, and rows that send them in one write accept that (E_PONGS).

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time sleep);
use Signaller::Test;
use Signaller::Test::Client;
use Signaller::Conformance;

my $t = Signaller::Test->new(workers => 2)->require_module;
$t->run(<<'EOF');
server {
    %%LISTEN%%
    location / {
        signaller on;
        signaller_listen_timeout 20s;
        signaller_pipe_timeout 60s;
        signaller_max_messages 100000;
    }
    location /small/ {
        signaller on;
        signaller_listen_timeout 20s;
        signaller_pipe_timeout 60s;
        signaller_max_messages 100000;
        signaller_max_message_size 1000;
    }
}
EOF

my $MAX = 65536;    # default signaller_max_message_size

my $NORMAL = E_CLOSE(1000);            # 1000 "Normal Closure"
my $GONE = E_CLOSE(4003);              # 4003 "Peer Gone"
my $PROTO = E_CLOSE(1002);             # 1002 "Protocol Error"
my $INVALID = E_CLOSE(1007);           # 1007 "Invalid Payload"
my $TOOBIG = E_CLOSE(1009);            # 1009 "Message Too Big"

my @rows;

# row(name, frames, client events, peer events, options)
# options: split (see write_stream), base ('/small' for a 1000-byte limit)
sub row {
    my ($name, $frames, $client, $peer, %o) = @_;
    push @rows, { name => $name, frames => $frames, client => $client,
        peer => $peer, %o };
}

# a message the sender gets through, then a normal close
sub ok_row {
    my ($name, $frames, $msgs, %o) = @_;
    row($name, [@$frames, CLOSE(1000)],
        [@{$o{pongs} // []}, $NORMAL], [@$msgs, $NORMAL], %o);
}

# frames that fail the connection with $close; the peer gets $before, then
# (perhaps) part of an unfinished message ($partial = [op, bytes]), 4003
sub fail_row {
    my ($name, $frames, $close, %o) = @_;
    row($name, $frames, [@{$o{pongs} // []}, $close],
        [@{$o{before} // []}, ($o{partial} ? E_PARTIAL(@{$o{partial}}) : ()),
            $GONE], %o);
}

sub bytes_of {
    my ($n, $seed) = @_;
    return join '', map { chr(($_ * 31 + ($seed // 7)) % 256) } 1 .. $n;
}

### 1. framing ###

for my $n (0, 1, 125, 126, 127, 128, 1000, 65535, $MAX) {
    my $p = 'x' x $n;
    ok_row("1 text $n bytes", [TEXT($p)], [E_TEXT($p)]);
    my $b = bytes_of($n);
    ok_row("1 binary $n bytes", [BIN($b)], [E_BIN($b)]);
}
{
    my $p = 'a' x 65535;
    ok_row('1 text 65535 bytes in writes of 997', [TEXT($p)], [E_TEXT($p)],
        split => [map { $_ * 997 } 1 .. 66], pause => 0.001);
    my $b = bytes_of($MAX, 3);
    ok_row('1 binary 65536 bytes in writes of 4096', [BIN($b)], [E_BIN($b)],
        split => [map { $_ * 4096 } 1 .. 16], pause => 0.001);
    ok_row('1 text 2 bytes written bytewise', [TEXT('hi')], [E_TEXT('hi')],
        split => 'bytes');
    ok_row('1 text 200 bytes, header written bytewise',
        [TEXT('y' x 200)], [E_TEXT('y' x 200)], split => [1 .. 8]);
    my $m = bytes_of($MAX, 5);
    ok_row('1 binary 65536 bytes (64-bit length), header written bytewise',
        [BIN($m)], [E_BIN($m)], split => [1 .. 14]);
    ok_row('1 several messages in one write',
        [TEXT('one'), BIN("\x00two"), TEXT(''), TEXT('four')],
        [E_TEXT('one'), E_BIN("\x00two"), E_TEXT(''), E_TEXT('four')]);
    ok_row('1 zero mask key', [TEXT('plain', mask_key => "\0\0\0\0")],
        [E_TEXT('plain')]);
}

# payload length
fail_row('1 64-bit length with the top bit set',
    [BIN('', len => 9223372036854775808, len_form => 64)], $PROTO);
fail_row('1 64-bit length 0xffffffffffffffff',
    [TEXT('', len => 18446744073709551615, len_form => 64)], $PROTO);
fail_row('1 declared length max+1, header only (no payload sent)',
    [BIN('', len => $MAX + 1)], $TOOBIG);
fail_row('1 declared length 2^40, header only',
    [TEXT('', len => 2**40)], $TOOBIG);
fail_row('1 declared length 2^63-1, header only',
    [BIN('', len => 9223372036854775807, len_form => 64)], $TOOBIG);
fail_row('1 binary max+1 bytes sent in full',
    [BIN('q' x ($MAX + 1))], $TOOBIG);
fail_row('1 declared 1001 > 1000, header only', [TEXT('', len => 1001)],
    $TOOBIG, base => '/small');
ok_row('1 exactly 1000 of 1000', [TEXT('m' x 1000), TEXT('n' x 1000)],
    [E_TEXT('m' x 1000), E_TEXT('n' x 1000)], base => '/small');
ok_row('1 size summed over fragments: 600+400 of 1000',
    [TEXT('a' x 600, fin => 0), CONT('b' x 400)],
    [E_TEXT('a' x 600 . 'b' x 400)], base => '/small');
ok_row('1 control frames between fragments do not count',
    [BIN('a' x 600, fin => 0), PING('p' x 125, fin => 1), PONG('q' x 125),
        CONT('b' x 400)],
    [E_BIN('a' x 600 . 'b' x 400)], base => '/small',
    pongs => [E_PONG('p' x 125)]);
fail_row('1 size summed over fragments: 600 + header of 401',
    [TEXT('a' x 600, fin => 0), CONT('', len => 401)], $TOOBIG,
    base => '/small', partial => [1, 'a' x 600]);
fail_row('1 size summed over fragments: 3 x 400',
    [BIN('a' x 400, fin => 0), CONT('b' x 400, fin => 0), CONT('c' x 400)],
    $TOOBIG, base => '/small', partial => [2, 'a' x 400 . 'b' x 400]);
fail_row('1 fragment header over the limit (default size), header only',
    [BIN('a' x 65000, fin => 0), CONT('', len => 537)], $TOOBIG,
    partial => [2, 'a' x 65000]);

### 2. ping/pong ###

ok_row('2 ping, empty payload', [PING('')], [], pongs => [E_PONG('')]);
ok_row('2 ping, text payload', [PING('Hello, world!')], [],
    pongs => [E_PONG('Hello, world!')]);
ok_row('2 ping, binary payload', [PING("\x00\xff\xfe\xfd\xfc\xfb\x00\xff")],
    [], pongs => [E_PONG("\x00\xff\xfe\xfd\xfc\xfb\x00\xff")]);
ok_row('2 ping, 125-byte payload', [PING(bytes_of(125))], [],
    pongs => [E_PONG(bytes_of(125))]);
fail_row('2 ping, 126-byte payload', [PING('p' x 126)], $PROTO);
fail_row('2 ping, 126-byte payload, header only',
    [PING('', len => 126, len_form => 16)], $PROTO);
ok_row('2 ping, 125 bytes written bytewise', [PING('w' x 125)], [],
    pongs => [E_PONG('w' x 125)], split => 'bytes', pause => 0.0005);
ok_row('2 unsolicited pong, empty', [PONG(''), TEXT('after')],
    [E_TEXT('after')]);
ok_row('2 unsolicited pong with payload', [PONG('unsolicited'),
    TEXT('after')], [E_TEXT('after')]);
ok_row('2 unsolicited pong, then ping', [PONG('pong'), PING('ping')], [],
    pongs => [E_PONG('ping')]);
ok_row('2 ten pings in one write', [map { PING("p$_") } 1 .. 10], [],
    pongs => [E_PONGS(map { "p$_" } 1 .. 10)]);
ok_row('2 ten pings, one write each', [map { PING("p$_") } 1 .. 10], [],
    pongs => [map { E_PONG("p$_") } 1 .. 10], split => 'frames',
    pause => 0.02);
ok_row('2 ping between messages', [TEXT('a'), PING('x'), TEXT('b')],
    [E_TEXT('a'), E_TEXT('b')], pongs => [E_PONG('x')]);

### 3. reserved bits ###

for my $rsv (1 .. 7) {
    fail_row("3 RSV=$rsv on a text frame", [TEXT('Hello', rsv => $rsv)],
        $PROTO);
}
fail_row('3 RSV=2 after a valid message, then a ping',
    [TEXT('Hello'), TEXT('Hello', rsv => 2), PING('x')], $PROTO,
    before => [E_TEXT('Hello')]);
fail_row('3 RSV=3 after a valid message, then a ping, one write each',
    [TEXT('Hello'), TEXT('Hello', rsv => 3), PING('x')], $PROTO,
    before => [E_TEXT('Hello')], split => 'frames');
fail_row('3 RSV=4 on a binary frame', [BIN("\x00\xff", rsv => 4)], $PROTO);
fail_row('3 RSV=5 on a ping', [PING('x', rsv => 5)], $PROTO);
fail_row('3 RSV=6 on a close', [CLOSE(1000, '', rsv => 6)], $PROTO);
fail_row('3 RSV=7 on a pong', [PONG('', rsv => 7)], $PROTO);
fail_row('3 RSV=1 on a continuation',
    [TEXT('frag1', fin => 0), CONT('frag2', rsv => 1)], $PROTO,
    partial => [1, 'frag1']);

### 4. opcodes ###

for my $op (3 .. 7, 11 .. 15) {
    fail_row("4 reserved opcode $op", [OPF($op, '')], $PROTO);
    fail_row("4 reserved opcode $op with payload, after a message, then "
        . "a ping", [TEXT('Hello'), OPF($op, 'reserved'), PING('x')],
        $PROTO, before => [E_TEXT('Hello')]);
}
fail_row('4 reserved opcode 3 inside a fragmented message',
    [TEXT('frag1', fin => 0), OPF(3, 'x', fin => 0), CONT('frag2')],
    $PROTO, partial => [1, 'frag1']);
fail_row('4 reserved opcode 11 inside a fragmented message',
    [BIN('frag1', fin => 0), OPF(11, 'x'), CONT('frag2')],
    $PROTO, partial => [2, 'frag1']);
fail_row('4 reserved opcode 7, one write each',
    [TEXT('Hello'), OPF(7, ''), TEXT('World')], $PROTO,
    before => [E_TEXT('Hello')], split => 'frames');

# unmasked client frames
fail_row('4 unmasked text', [TEXT('Hello', mask => 0)], $PROTO);
fail_row('4 unmasked empty binary', [BIN('', mask => 0)], $PROTO);
fail_row('4 unmasked ping', [PING('x', mask => 0)], $PROTO);
fail_row('4 unmasked close', [CLOSE(1000, '', mask => 0)], $PROTO);
fail_row('4 unmasked continuation',
    [TEXT('frag1', fin => 0), CONT('frag2', mask => 0)], $PROTO,
    partial => [1, 'frag1']);

### 5. fragmentation ###

fail_row('5 ping in two fragments', [PING('frag1', fin => 0), CONT('frag2')],
    $PROTO);
fail_row('5 pong in two fragments', [PONG('frag1', fin => 0), CONT('frag2')],
    $PROTO);
fail_row('5 close with FIN clear', [CLOSE(1000, '', fin => 0)], $PROTO);
fail_row('5 ping in two fragments, one write each',
    [PING('frag1', fin => 0), CONT('frag2')], $PROTO, split => 'frames');
for my $split (undef, 'frames', 'bytes') {
    my $how = $split ? "written by $split" : 'in one write';
    ok_row("5 text in 2 fragments, $how",
        [TEXT('fragment1', fin => 0), CONT('fragment2')],
        [E_TEXT('fragment1fragment2')], split => $split, pause => 0.001);
    ok_row("5 binary in 2 fragments, $how",
        [BIN("\x00frag1", fin => 0), CONT("\xfffrag2")],
        [E_BIN("\x00frag1\xfffrag2")], split => $split, pause => 0.001);
    ok_row("5 text in 3 fragments, ping between each, $how",
        [TEXT('frag1', fin => 0), PING('ping1'), CONT('frag2', fin => 0),
            PING('ping2'), CONT('frag3')],
        [E_TEXT('frag1frag2frag3')],
        pongs => [($split // '') eq 'bytes'
            ? (E_PONG('ping1'), E_PONG('ping2'))
            : E_PONGS('ping1', 'ping2')], split => $split,
        pause => 0.001);
    ok_row("5 text in 2 fragments, pong between, $how",
        [TEXT('frag1', fin => 0), PONG('pong'), CONT('frag2')],
        [E_TEXT('frag1frag2')], split => $split, pause => 0.001);
    fail_row("5 continuation (FIN) without a message, $how",
        [CONT('non-continuation payload'), TEXT('Hello')], $PROTO,
        split => $split, pause => 0.001);
    fail_row("5 continuation (no FIN) without a message, $how",
        [CONT('non-continuation payload', fin => 0), TEXT('Hello')],
        $PROTO, split => $split, pause => 0.001);
    fail_row("5 text inside a fragmented text, $how",
        [TEXT('frag1', fin => 0), TEXT('frag2'), CONT('frag3')], $PROTO,
        partial => [1, 'frag1'], split => $split, pause => 0.001);
}
fail_row('5 continuation after a finished message',
    [TEXT('Hello'), CONT('World')], $PROTO, before => [E_TEXT('Hello')]);
fail_row('5 binary inside a fragmented text',
    [TEXT('frag1', fin => 0), BIN('frag2', fin => 0), CONT('frag3')],
    $PROTO, partial => [1, 'frag1']);
fail_row('5 text (no FIN) inside a fragmented binary',
    [BIN('frag1', fin => 0), CONT('frag2', fin => 0), TEXT('x', fin => 0)],
    $PROTO, partial => [2, 'frag1frag2']);
ok_row('5 empty fragments', [TEXT('', fin => 0), CONT('', fin => 0),
    CONT('')], [E_TEXT('')]);
ok_row('5 empty fragments around data', [BIN('', fin => 0),
    CONT('a', fin => 0), CONT('', fin => 0), CONT('b', fin => 0), CONT('')],
    [E_BIN('ab')]);
ok_row('5 100 one-byte fragments',
    [TEXT('a', fin => 0), (map { CONT(chr(97 + $_ % 26), fin => 0) } 1 .. 98),
        CONT('z')],
    [E_TEXT(join('', map { chr(97 + $_ % 26) } 0 .. 98) . 'z')]);
ok_row('5 two fragmented messages back to back',
    [TEXT('a1', fin => 0), CONT('a2'), BIN('b1', fin => 0), PING('p'),
        CONT('b2')],
    [E_TEXT('a1a2'), E_BIN('b1b2')], pongs => [E_PONG('p')]);
ok_row('5 ping between fragments, first fragment held back',
    [TEXT('frag1', fin => 0), PING('x'), CONT('frag2')], [E_TEXT('frag1frag2')],
    pongs => [E_PONG('x')], split => [2, 9], pause => 0.05);

### 6. UTF-8 ###

my @valid = (
    ['Hello-µ@ßöäüàá-UTF-8!!', "Hello-\xc2\xb5\@\xc3\x9f\xc3\xb6\xc3\xa4"
        . "\xc3\xbc\xc3\xa0\xc3\xa1-UTF-8!!"],
    ['kosme', "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"],
    ['U+0000', "\x00"], ['U+007F', "\x7f"], ['U+0080', "\xc2\x80"],
    ['U+07FF', "\xdf\xbf"], ['U+0800', "\xe0\xa0\x80"],
    ['U+D7FF', "\xed\x9f\xbf"], ['U+E000', "\xee\x80\x80"],
    ['U+FFFD', "\xef\xbf\xbd"], ['U+FFFE U+FFFF', "\xef\xbf\xbe\xef\xbf\xbf"],
    ['U+10000', "\xf0\x90\x80\x80"], ['U+10FFFF', "\xf4\x8f\xbf\xbf"],
    ['U+FFFFF', "\xf3\xbf\xbf\xbf"],
);
for my $v (@valid) {
    ok_row("6 valid $v->[0]", [TEXT($v->[1])], [E_TEXT($v->[1])]);
}

# a valid text split at every byte position: across fragments, and
# across TCP writes inside one frame
my $multi = "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5 \xf0\x9d\x84\x9e"
    . " \xe2\x9c\x93 \xf4\x8f\xbf\xbf";
for my $i (1 .. length($multi) - 1) {
    my ($a, $b) = (substr($multi, 0, $i), substr($multi, $i));
    ok_row("6 valid text in fragments split at byte $i",
        [TEXT($a, fin => 0), CONT($b)], [E_TEXT($multi)]);
    ok_row("6 valid text, TCP writes split at byte $i",
        [TEXT($multi)], [E_TEXT($multi)], split => [6 + $i], pause => 0.01);
    ok_row("6 valid text in fragments split at byte $i, written apart",
        [TEXT($a, fin => 0), CONT($b)], [E_TEXT($multi)], split => 'frames',
        pause => 0.01);
}
ok_row('6 valid text, one fragment per byte',
    [TEXT(substr($multi, 0, 1), fin => 0),
        (map { CONT(substr($multi, $_, 1), fin => 0) } 1 .. length($multi) - 2),
        CONT(substr($multi, -1))],
    [E_TEXT($multi)]);
ok_row('6 valid text written bytewise', [TEXT($multi)], [E_TEXT($multi)],
    split => 'bytes', pause => 0.002);

my @invalid = (
    ['overlong NUL C0 80', "\xc0\x80"],
    ['overlong NUL E0 80 80', "\xe0\x80\x80"],
    ['overlong NUL F0 80 80 80', "\xf0\x80\x80\x80"],
    ['overlong / C0 AF', "\xc0\xaf"],
    ['max overlong C1 BF', "\xc1\xbf"],
    ['max overlong E0 9F BF', "\xe0\x9f\xbf"],
    ['max overlong F0 8F BF BF', "\xf0\x8f\xbf\xbf"],
    ['surrogate ED A0 80', "\xed\xa0\x80"],
    ['surrogate ED BF BF', "\xed\xbf\xbf"],
    ['surrogate pair', "\xed\xa0\x80\xed\xb0\x80"],
    ['U+110000 F4 90 80 80', "\xf4\x90\x80\x80"],
    ['F5 80 80 80', "\xf5\x80\x80\x80"],
    ['F7 BF BF BF', "\xf7\xbf\xbf\xbf"],
    ['5-byte form', "\xf8\x88\x80\x80\x80"],
    ['6-byte form', "\xfc\x84\x80\x80\x80\x80"],
    ['FE', "\xfe"], ['FF', "\xff"],
    ['lone continuation 80', "\x80"], ['lone continuation BF', "\xbf"],
    ['lead then ASCII C2 41', "\xc2\x41"],
    ['E2 28 A1', "\xe2\x28\xa1"],
    ['3-byte lead, 1 continuation, then ASCII', "\xe2\x82\x41"],
);
for my $v (@invalid) {
    my $s = "ab$v->[1]cd";
    my $pre = substr($s, 0, utf8_valid_prefix_len($s));
    fail_row("6 invalid $v->[0]", [TEXT($s)], $INVALID,
        partial => [1, $pre]);
    fail_row("6 invalid $v->[0], in a later fragment",
        [TEXT('hello', fin => 0), CONT($s, fin => 0), CONT('world')],
        $INVALID, partial => [1, "hello$pre"]);
}
for my $v (['C2', "\xc2"], ['E2 82', "\xe2\x82"],
    ['F0 9D 84', "\xf0\x9d\x84"], ['F4', "\xf4"])
{
    fail_row("6 truncated $v->[0] at message end", [TEXT("ab$v->[1]")],
        $INVALID, partial => [1, "ab$v->[1]"]);
    fail_row("6 truncated $v->[0] at the end of a fragmented message",
        [TEXT('ab', fin => 0), CONT($v->[1], fin => 0), CONT('')],
        $INVALID, partial => [1, "ab$v->[1]"]);
}
ok_row('6 binary is not UTF-8 checked', [BIN("\xc0\x80\xed\xa0\x80\xff")],
    [E_BIN("\xc0\x80\xed\xa0\x80\xff")]);

# fail fast: the error is found in the fragment that has the invalid
# byte; the rest of the message is never sent (no FIN), and nothing sent
# after the invalid fragment reaches the peer
fail_row('6 fail fast: invalid byte in the 2nd of 3 fragments, no FIN',
    [TEXT('hello', fin => 0), CONT("wo\xffrld", fin => 0)], $INVALID,
    partial => [1, 'hellowo']);
fail_row('6 fail fast: rest of the message after the invalid fragment',
    [TEXT('hello', fin => 0), CONT("\xc0\x80", fin => 0),
        CONT('world', fin => 0), CONT('!')],
    $INVALID, partial => [1, 'hello'], split => 'frames', pause => 0.02);
fail_row('6 fail fast: overlong split across fragments',
    [TEXT("\xce\xba\xe0", fin => 0), CONT("\x80\x80", fin => 0)],
    $INVALID, partial => [1, "\xce\xba\xe0"], split => 'frames',
    pause => 0.02);
fail_row('6 fail fast: surrogate split across fragments',
    [TEXT("\xed", fin => 0), CONT("\xa0\x80", fin => 0)],
    $INVALID, partial => [1, "\xed"], split => 'frames', pause => 0.02);
fail_row('6 fail fast: above U+10FFFF split across fragments',
    [TEXT("\xf4", fin => 0), CONT("\x90", fin => 0)],
    $INVALID, partial => [1, "\xf4"], split => 'frames', pause => 0.02);
fail_row('6 fail fast: invalid byte in a frame whose payload is not all '
        . 'sent',
    [TEXT("abc\xff1234", len => 100)], $INVALID, partial => [1, 'abc']);
fail_row('6 fail fast: invalid fragment after many valid ones',
    [TEXT('0', fin => 0), (map { CONT("$_", fin => 0) } 1 .. 9),
        CONT("\xed\xa0\x80", fin => 0), CONT('rest')],
    $INVALID, partial => [1, '0123456789'], split => 'frames',
    pause => 0.002);

### 7. close handling ###

row('7 close 1000, echoed', [CLOSE(1000)], [$NORMAL], [$NORMAL]);
row('7 close 1000 with a reason, echoed with the standard reason',
    [CLOSE(1000, 'bye')], [$NORMAL], [$NORMAL]);
row('7 close without payload, echoed without payload', [CLOSE()],
    [E_EMPTY_CLOSE], [$GONE]);
row('7 close 1000 with a 123-byte reason (125-byte payload)',
    [CLOSE(1000, 'r' x 123)], [$NORMAL], [$NORMAL]);
row('7 close 1000 with a valid UTF-8 reason',
    [CLOSE(1000, "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5")],
    [$NORMAL], [$NORMAL]);
row('7 close 1000, then a text: not relayed',
    [CLOSE(1000), TEXT('after close')], [$NORMAL], [$NORMAL]);
row('7 close 1000, then a text, one write each',
    [CLOSE(1000), TEXT('after close')], [$NORMAL], [$NORMAL],
    split => 'frames', pause => 0.05);
row('7 close 1000, then a ping: no pong', [CLOSE(1000), PING('x')],
    [$NORMAL], [$NORMAL]);
row('7 close 1000, then a ping, one write each', [CLOSE(1000), PING('x')],
    [$NORMAL], [$NORMAL], split => 'frames', pause => 0.05);
row('7 two closes', [CLOSE(1000), CLOSE(1001)], [$NORMAL], [$NORMAL]);
row('7 close 3000, then a text', [CLOSE(3000), TEXT('after close')],
    [E_CLOSE(3000, '')], [$GONE]);
row('7 close in the middle of a fragmented message',
    [TEXT('frag1', fin => 0), CLOSE(1000), CONT('frag2')], [$NORMAL],
    [E_PARTIAL(1, 'frag1'), $NORMAL]);
row('7 message, then close: the message arrives first',
    [TEXT('last'), CLOSE(1000)], [$NORMAL], [E_TEXT('last'), $NORMAL]);
fail_row('7 close with a 1-byte payload', [OPF(8, "\x03")], $PROTO);
fail_row('7 close with a 1-byte payload, then a message',
    [OPF(8, "\xe8"), TEXT('after')], $PROTO);
fail_row('7 close with a 126-byte payload',
    [CLOSE(1000, 'r' x 124)], $PROTO);
fail_row('7 close reason not UTF-8 (C0 80)', [CLOSE(1000, "ok\xc0\x80")],
    $INVALID);
fail_row('7 close reason not UTF-8 (surrogate)',
    [CLOSE(1001, "\xed\xa0\x80")], $INVALID);
fail_row('7 close reason not UTF-8 (truncated)',
    [CLOSE(3000, "ab\xe2\x82")], $INVALID);
fail_row('7 close reason not UTF-8 (FF)', [CLOSE(4000, "\xff")], $INVALID);

for my $code (0, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999,
    5000, 5001, 65535)
{
    fail_row("7 close code $code is invalid", [CLOSE($code)], $PROTO);
}
for my $code (1000 .. 1003, 1007 .. 1014, 3000, 3001, 3999, 4000 .. 4003,
    4999)
{
    my $peer = $code == 1000 ? $NORMAL : $GONE;
    row("7 close code $code, echoed", [CLOSE($code)],
        [E_CLOSE($code, reason_for($code))], [$peer]);
    row("7 close code $code with a reason, echoed",
        [CLOSE($code, 'some reason')],
        [E_CLOSE($code, reason_for($code))], [$peer]);
}

# after a protocol error nothing else is parsed or relayed
fail_row('7 protocol error, then a message and a ping in the same write',
    [TEXT('x', rsv => 1), TEXT('after'), PING('p'), CLOSE(1000)], $PROTO);
fail_row('7 invalid UTF-8, then a message and a ping, one write each',
    [TEXT("\xff"), TEXT('after'), PING('p'), CLOSE(1000)], $INVALID,
    split => 'frames', pause => 0.02);

### run ###

sub run_row {
    my ($r, $layout, $who) = @_;
    my ($l, $c) = $t->pair(layout => $layout, base => $r->{base});
    my ($s, $p) = $who eq 'listener' ? ($l, $c) : ($c, $l);
    my $name = "$r->{name} [$layout, $who sends]";
    write_stream($s, $r->{frames}, $r->{split}, $r->{pause});
    my $sent_close = grep { !$_->{raw} && ($_->{opcode} // -1) == 8 }
        @{$r->{frames}};
    # a client that sent a close (valid or not) sends nothing more and waits
    # for the server to close TCP: after an echo, and after failing the
    # connection on an invalid close frame (RFC 6455 7.1.7; the README: on
    # a frame that breaks the protocol the server sends its close and
    # shuts its write side), EOF must come at once, not after the server's
    # 2 s close timeout
    my $sg = collect($s, reply => !$sent_close);
    my $pg = collect($p, reply => 1);
    my $se = match_events($sg, [@{$r->{client}}, ['eof']]);
    my $pe = match_events($pg, [@{$r->{peer}}, ['eof']]);
    my $ok = is_deeply($sg, $se, "$name: sender");
    diag("  got:      " . show_events($sg) . "\n  expected: "
        . show_events($se)) unless $ok;
    $ok = is_deeply($pg, $pe, "$name: peer");
    diag("  got:      " . show_events($pg) . "\n  expected: "
        . show_events($pe)) unless $ok;
    $s->close;
    $p->close;
}

my $only = $ENV{CONFORMANCE_ONLY};
my $t0 = time;
for my $layout ($t->layouts) {
    for my $who ('connector', 'listener') {
        subtest "[$layout, $who sends]" => sub {
            for my $r (@rows) {
                next if defined $only && $r->{name} !~ /$only/;
                run_row($r, $layout, $who);
            }
        };
    }
}
diag(sprintf "%d rows x %d runs in %.1f s", scalar @rows,
    2 * scalar(my @l = $t->layouts), time - $t0) if $ENV{TEST_VERBOSE};

$t->stop;
done_testing;
