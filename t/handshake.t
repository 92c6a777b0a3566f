#!/usr/bin/perl

# Routing, handle grammar and the RFC 6455 handshake: every status in the
# check order (route 404, method 405, 400, 426, key 400, 101).

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use MIME::Base64 qw(encode_base64);
use Signaller::Test;
use Signaller::Test::Client;

my $t = Signaller::Test->new(workers => 1)->require_module;
$t->run(<<'EOF');
server {
    %%LISTEN%%
    location / { signaller on; }
    location /signal/ { signaller on; }
}
EOF

my $ok_key = encode_base64('0123456789abcdef', '');

# status of a handshake (Signaller::Test::ws_status), short for the tables
sub st { return $t->ws_status(@_) }

### Sec-WebSocket-Accept, response headers ###

{
    my $c = $t->ws('/listen/rfcsample', key => 'dGhlIHNhbXBsZSBub25jZQ==',
        headers => [
            ['Sec-WebSocket-Extensions',
                'permessage-deflate; client_max_window_bits'],
            ['Sec-WebSocket-Protocol', 'chat, superchat'],
        ]);
    is($c->status, 101, 'RFC sample key: 101');
    is($c->header('Sec-WebSocket-Accept'), 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=',
        'RFC sample key: exact Sec-WebSocket-Accept');
    is($c->header_count('Sec-WebSocket-Accept'), 1, 'one Accept header');
    like($c->header('Upgrade') // '', qr/^websocket$/i, 'Upgrade: websocket');
    like($c->header('Connection') // '', qr/(?:^|,)\s*upgrade\s*(?:,|$)/i,
        'Connection: upgrade');
    ok(!defined $c->header('Sec-WebSocket-Extensions'),
        'no extension negotiated');
    ok(!defined $c->header('Sec-WebSocket-Protocol'),
        'no subprotocol negotiated');
    like($c->response, qr{^HTTP/1\.1 101 Switching Protocols\r\n},
        'status line HTTP/1.1 101 Switching Protocols');
    unlike($c->response, qr/^(?:Content-Length|Transfer-Encoding):/mi,
        'no body framing on 101');
    close_listener($c, 'rfc sample');
}

for my $i (1 .. 3) {
    my $c = $t->ws('/listen/' . $t->handle);
    is($c->status, 101, "random key $i: 101");
    is($c->header('Sec-WebSocket-Accept'), $c->expected_accept,
        "random key $i: Accept matches");
    close_listener($c, "random key $i");
}

# request split into small pieces with pauses
{
    my $c = $t->client;
    my $req = $c->request_bytes('/listen/' . $t->handle);
    my $frame = Signaller::Test::Client::frame(opcode => 9, payload => 'pg');
    for my $piece (unpack '(a7)*', $req) {
        $c->send_raw($piece);
        select undef, undef, undef, 0.01;
    }
    $c->handshake(undef, raw => '');
    is($c->status, 101, 'request sent in 7-byte pieces: 101');
    is($c->header('Sec-WebSocket-Accept'), $c->expected_accept,
        'split request: Accept');
    $c->send_raw($_), select(undef, undef, undef, 0.01)
        for split //, $frame;
    my $f = $c->read_frame(2);
    ok($f && !$f->{eof} && $f->{opcode} == OP_PONG && $f->{payload} eq 'pg',
        'ping sent byte by byte: pong');
    close_listener($c, 'split request');
}

# header names in any case, odd spacing
{
    my $c = $t->client;
    my $key = Signaller::Test::Client::random_key();
    $c->handshake(undef, raw => 'GET /listen/' . $t->handle . " HTTP/1.1\r\n"
        . "host: 127.0.0.1\r\nUPGRADE:   websocket  \r\n"
        . "connection:Upgrade\r\nsec-websocket-key:  $key \r\n"
        . "SEC-WEBSOCKET-VERSION: 13\r\n\r\n");
    $c->{key} = $key;
    is($c->status, 101, 'header names in other cases: 101');
    is($c->header('Sec-WebSocket-Accept'), $c->expected_accept,
        'odd spacing: Accept from the trimmed key');
    close_listener($c, 'odd headers');
}

# a keepalive request first, then the upgrade on the same connection
{
    my $c = $t->client;
    ok($c->probe_pid, 'plain request on the connection first');
    $c->handshake('/listen/' . $t->handle);
    is($c->status, 101, 'upgrade after a keepalive request: 101');
    close_listener($c, 'after keepalive');
}

### routing ###

my @route = (
    ['/listen/abc',                       101],
    ['/listen/abd?x=1',                   101, 'query string ignored'],
    ['/listen/abe?/connect/zzz',          101, 'query with a path ignored'],
    ['/signal/listen/abf',                101, 'prefix location'],
    ['/signal/deeper/more/listen/abg',    101, 'anything before listen'],
    ['/listen/abh/',                      404, 'trailing slash'],
    ['/listen/',                          404],
    ['/listen',                           404],
    ['/connect',                          404],
    ['/',                                 404],
    ['/signal/',                          404],
    ['/signal/listen',                    404],
    ['/signal/foo/abi',                   404, 'neither listen nor connect'],
    ['/listen/abj/extra',                 404, 'handle not last'],
    ['/listens/abk',                      404],
    ['/xlisten/abl',                      404],
    ['/Listen/abm',                       404, 'verb is case-sensitive'],
    ['/connect/abn/',                     404],
    ['/LISTEN/abo',                       404],
);

for my $r (@route) {
    my ($path, $want, $why) = @$r;
    is(st($path), $want, "GET $path: $want" . ($why ? " ($why)" : ''));
}

### handle grammar ^[a-z](?:_?[a-z0-9]){2,31}$ ###

my @good = (
    'abc', 'a12', 'a00', 'a1b2c3', 'ab_c', 'a_b_c', 'a_1_2', 'x9_y',
    'q' . ('z' x 31),                 # 32 chars
    'p' . ('_b' x 31),                # 63 chars, the longest
    'r' . ('_1' x 30) . 'k',          # 62 chars
);
my @bad = (
    'ab', 'a', 'a_b', 'a_', 'a1',
    's' . ('z' x 32),                 # 33 chars without '_'
    't' . ('_b' x 31) . 'c',          # 64 chars
    'a__b', 'abc_', 'ab__', '_abc', '1abc', '9ab', 'Abc', 'abC', 'ABC',
    'ab-c', 'ab.c', 'ab%20c', 'ab~c', "\xc3\xa9ab", 'ab%2Fcd',
);

for my $h (@good) {
    is(st("/listen/$h"), 101, 'listen handle ' . substr($h, 0, 20)
        . ' (' . length($h) . ' chars): 101');
}
for my $h (@bad) {
    (my $show = $h) =~ s/([^\x21-\x7e])/sprintf('\\x%02x', ord $1)/ge;
    is(st("/listen/$h"), 404, "listen handle '$show': 404");
    is(st("/connect/$h"), 404, "connect handle '$show': 404");
}
is(st('/connect/nobodyhere'), 404, 'connect with no listener: 404');

### check order ###

# 1. route before method
is(st('/listen/ab', method => 'POST', upgrade => undef), 404,
    'bad handle + POST + no Upgrade: 404');
is(st('/other/ab', method => 'DELETE'), 404, 'bad route + DELETE: 404');

# 2. method
for my $m (qw(POST PUT DELETE OPTIONS PATCH)) {
    is(st('/listen/' . $t->handle, method => $m), 405, "$m: 405");
}
{
    my $c = $t->ws('/listen/' . $t->handle, method => 'HEAD');
    is($c->status, 405, 'HEAD: 405');
}
is(st('/listen/' . $t->handle, method => 'POST', proto => 'HTTP/1.0',
    upgrade => undef, version => '8', key => undef), 405,
    'POST + HTTP/1.0 + everything else wrong: 405');
is(st('/connect/' . $t->handle, method => 'POST'), 405,
    'POST /connect without listener: 405');

# 3. HTTP version, Upgrade and Connection tokens
is(st('/listen/' . $t->handle, proto => 'HTTP/1.0'), 400, 'HTTP/1.0: 400');
is(st('/listen/' . $t->handle, proto => 'HTTP/1.0', version => '8',
    key => undef), 400, 'HTTP/1.0 + bad version + no key: 400');
is(st('/listen/' . $t->handle, upgrade => undef), 400, 'no Upgrade: 400');
is(st('/listen/' . $t->handle, upgrade => 'h2c'), 400, 'Upgrade: h2c: 400');
is(st('/listen/' . $t->handle, upgrade => 'websocketx'), 400,
    'Upgrade: websocketx: 400');
is(st('/listen/' . $t->handle, upgrade => 'web socket'), 400,
    'Upgrade: web socket: 400');
is(st('/listen/' . $t->handle, upgrade => 'WebSocket'), 101,
    'Upgrade: WebSocket (case): 101');
is(st('/listen/' . $t->handle, upgrade => 'h2c, websocket'), 101,
    'Upgrade token list: 101');
is(st('/listen/' . $t->handle, connection => undef), 400,
    'no Connection: 400');
is(st('/listen/' . $t->handle, connection => 'keep-alive'), 400,
    'Connection: keep-alive: 400');
is(st('/listen/' . $t->handle, connection => 'upgraded'), 400,
    'Connection: upgraded: 400');
is(st('/listen/' . $t->handle, connection => 'close'), 400,
    'Connection: close: 400');
is(st('/listen/' . $t->handle, connection => 'keep-alive, Upgrade'), 101,
    'Connection: keep-alive, Upgrade: 101');
is(st('/listen/' . $t->handle, connection => 'UPGRADE'), 101,
    'Connection: UPGRADE: 101');
is(st('/listen/' . $t->handle, connection => 'upgrade,keep-alive'), 101,
    'Connection: upgrade,keep-alive: 101');
is(st('/listen/' . $t->handle, upgrade => undef, version => '8',
    key => undef), 400, 'no Upgrade + bad version + no key: 400');
is(st('/connect/' . $t->handle, connection => 'keep-alive'), 400,
    '/connect without listener, bad Connection: 400');

# 4. version
for my $v (undef, '8', '12', '14', '130', '13, 8', '') {
    my $c = $t->ws('/listen/' . $t->handle, version => $v);
    my $show = defined $v ? "'$v'" : 'absent';
    is($c->status, 426, "Sec-WebSocket-Version $show: 426");
    is($c->header('Sec-WebSocket-Version'), '13',
        "Sec-WebSocket-Version $show: response says 13");
    $c->close;
}
is(st('/listen/' . $t->handle, version => '8', key => undef), 426,
    'bad version + no key: 426');
is(st('/connect/' . $t->handle, version => '8'), 426,
    '/connect without listener, bad version: 426');

# 5. key
my @bad_keys = (
    [undef, 'absent'],
    ['', 'empty'],
    ['abc', 'short garbage'],
    [encode_base64('0123456789abcde', ''), '15 bytes'],
    [encode_base64('0123456789abcdef0', ''), '17 bytes'],
    [encode_base64('0123456789abcdef' x 2, ''), '32 bytes'],
    ['!!!!!!!!!!!!!!!!!!!!!!==', 'not base64'],
);
for my $k (@bad_keys) {
    is(st('/listen/' . $t->handle, key => $k->[0]), 400,
        "Sec-WebSocket-Key $k->[1]: 400");
}
is(st('/listen/' . $t->handle, key => $ok_key), 101, 'valid fixed key: 101');
is(st('/connect/' . $t->handle, key => undef), 400,
    '/connect without listener, no key: 400');

# 7. 426 and 400 come before 409
{
    my $h = $t->handle;
    my $l = $t->ws("/listen/$h");
    is($l->status, 101, 'listener for order checks');
    is(st("/listen/$h", version => '8'), 426, 'duplicate + bad version: 426');
    is(st("/listen/$h", key => undef), 400, 'duplicate + no key: 400');
    is(st("/listen/$h", method => 'POST'), 405, 'duplicate + POST: 405');
    is(st("/listen/$h"), 409, 'duplicate: 409');
    close_listener($l, 'order listener');
}

$t->stop;
done_testing;
