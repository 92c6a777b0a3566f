#!/usr/bin/perl

# The module with what nginx brings: limit_conn still limits open
# WebSockets (the request is kept for its cleanup), limit_req and access
# control refuse before the handshake, and wss:// works through nginx's TLS.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep);
use Digest::SHA qw(sha1);
use MIME::Base64 qw(encode_base64);
use IO::Socket::SSL;
use Signaller::Test;

my $t = Signaller::Test->new(workers => 2)->require_module;

my $p = $t->prefix;
system("openssl req -x509 -newkey rsa:2048 -nodes -keyout $p/key.pem"
    . " -out $p/cert.pem -days 2 -subj /CN=localhost 2>/dev/null") == 0
    or BAIL_OUT('openssl cannot make a certificate');

$t->run(<<'EOF');
limit_conn_zone $binary_remote_addr zone=perip:1m;
limit_req_zone $binary_remote_addr zone=slow:1m rate=1r/m;

server {
    %%LISTEN%%
    location /lc/ {
        signaller on;
        limit_conn perip 2;
    }
    location /lr/ {
        signaller on;
        limit_req zone=slow burst=1 nodelay;
    }
    location /deny/ {
        signaller on;
        deny all;
    }
}

server {
    listen 127.0.0.1:%%PORT_1%% ssl;
    ssl_certificate %%PREFIX%%/cert.pem;
    ssl_certificate_key %%PREFIX%%/key.pem;
    location / {
        signaller on;
    }
}
EOF

# limit_conn counts established WebSockets, not only handshakes
{
    my @l = map { $t->ws('/lc/listen/' . $t->handle) } 1 .. 2;
    is($_->status, 101, 'limit_conn: WebSocket within the limit') for @l;
    my $h3 = $t->handle;
    my $third = $t->ws("/lc/listen/$h3");
    is($third->status, 503, 'limit_conn: third open WebSocket refused');

    $l[0]->close;
    sleep 0.3;
    my $again = $t->ws("/lc/listen/$h3");
    is($again->status, 101, 'limit_conn: a closed WebSocket frees its slot');
    $_->close for $l[1], $again;
}

# limit_req and access control answer before any handshake
{
    my @s = map { $t->ws('/lr/listen/' . $t->handle)->status } 1 .. 3;
    is_deeply(\@s, [101, 101, 503], 'limit_req refuses past its burst');

    is($t->ws('/deny/listen/' . $t->handle)->status, 403, 'deny all: 403');
}

# wss://: a pair over TLS, messages both ways and the closing handshake

sub tls_ws {
    my ($path) = @_;
    my $s = IO::Socket::SSL->new(
        PeerAddr => '127.0.0.1', PeerPort => $t->port(1),
        SSL_verify_mode => SSL_VERIFY_NONE, Timeout => 5,
    ) or die "tls connect: $SSL_ERROR\n";
    my $key = encode_base64(join('', map { chr int rand 256 } 1 .. 16), '');
    print $s "GET $path HTTP/1.1\r\nHost: localhost\r\n"
        . "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        . "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: $key\r\n\r\n";
    my $head = '';
    while ($head !~ /\r\n\r\n/) {
        my $n = sysread($s, $head, 1, length $head);
        last unless $n;
    }
    my ($status) = $head =~ m{^HTTP/1\.1 (\d+)};
    my ($accept) = $head =~ /^Sec-WebSocket-Accept: (\S+)\r$/mi;
    my $want = encode_base64(sha1($key
        . '258EAFA5-E914-47DA-95CA-C5AB0DC85B11'), '');
    return ($s, $status, ($accept // '') eq $want);
}

sub tls_send {
    my ($s, $op, $payload) = @_;
    my $len = length $payload;
    my $mask = join '', map { chr int rand 256 } 1 .. 4;
    my $hdr = chr(0x80 | $op)
        . ($len < 126 ? chr(0x80 | $len)
           : $len < 65536 ? chr(0x80 | 126) . pack('n', $len)
           : chr(0x80 | 127) . pack('Q>', $len));
    my $masked = $payload ^ substr($mask x (int($len / 4) + 1), 0, $len);
    print $s $hdr . $mask . $masked;
}

sub tls_read_exact {
    my ($s, $n) = @_;
    my $buf = '';
    while (length $buf < $n) {
        my $r = sysread($s, $buf, $n - length $buf, length $buf);
        return undef unless $r;
    }
    return $buf;
}

# one whole message: (opcode, payload), continuation frames joined
sub tls_read {
    my ($s) = @_;
    my ($op, $data) = (undef, '');
    local $SIG{ALRM} = sub { die "timeout\n" };
    alarm 5;
    while (1) {
        my $h = tls_read_exact($s, 2) // last;
        my ($b0, $b1) = unpack 'CC', $h;
        my $len = $b1 & 0x7f;
        $len = unpack 'n', tls_read_exact($s, 2) if $len == 126;
        $len = unpack 'Q>', tls_read_exact($s, 8) if $len == 127;
        my $p = $len ? tls_read_exact($s, $len) : '';
        $op //= $b0 & 0x0f;
        $data .= $p;
        last if $b0 & 0x80;
    }
    alarm 0;
    return ($op, $data);
}

# several pairs, so that with two workers some cross between them
for my $i (1 .. 6) {
    my $h = $t->handle;
    my ($l, $ls, $lok) = tls_ws("/listen/$h");
    my ($c, $cs) = tls_ws("/connect/$h");
    is("$ls $cs", '101 101', "wss pair $i: 101 for both");
    ok($lok, "wss pair $i: Sec-WebSocket-Accept");

    my $big = join '', map { chr(($_ * 7 + $i) & 0xff) } 1 .. 40000;
    tls_send($c, 2, $big);
    is_deeply([tls_read($l)], [2, $big], "wss pair $i: 40000 bytes");
    tls_send($l, 1, "h\xc3\xa9llo");
    is_deeply([tls_read($c)], [1, "h\xc3\xa9llo"], "wss pair $i: text");

    tls_send($c, 8, pack('n', 1000));
    is_deeply([tls_read($l)], [8, pack('n', 1000) . 'Normal Closure'],
        "wss pair $i: the listener gets 1000 Normal Closure");
    is_deeply([tls_read($c)], [8, pack('n', 1000) . 'Normal Closure'],
        "wss pair $i: the connector's close is echoed");
    close $_ for $l, $c;
}

$t->stop;
done_testing;
