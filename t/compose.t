#!/usr/bin/perl

# The module with what nginx brings: limit_conn still limits open
# WebSockets (the request is kept for its cleanup), limit_req and access
# control refuse before the handshake, and wss:// works through nginx's TLS.
# Then the README's recipes ("Composing with nginx"), as written there,
# with one worker and with two: limit_req, limit_conn, allow/deny on
# /listen, auth_request on /listen, and map on $http_origin.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time sleep);
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

### the README's recipes ###

my $has_auth_request = `$Signaller::Test::NGINX -V 2>&1`
    =~ /--with-http_auth_request_module\b/;

# Each recipe sits in a location of its own; the http-level parts (zones,
# map, upstream) and the application that auth_request asks are shared.
# Apart from names, addresses and ports, and signaller_log_at, every
# block is the README's.
sub recipes_conf {
    my $auth = !$has_auth_request ? '' : <<'EOF';
    # auth_request: gate /listen on a subrequest to an application
    location /signal/ {
        signaller on;
    }
    location ~ ^/signal/listen/ {
        auth_request /auth;
        signaller on;
    }
    location = /auth {
        internal;
        proxy_pass http://app/check;
        proxy_pass_request_body off;
        proxy_set_header Content-Length "";
        proxy_set_header X-Original-URI $request_uri;
    }
    # the same with an application that cannot be reached
    location ~ ^/down/listen/ {
        auth_request /auth-down;
        signaller on;
    }
    location = /auth-down {
        internal;
        proxy_pass http://unix:%%PREFIX%%/no-app.sock:/check;
        proxy_pass_request_body off;
        proxy_set_header Content-Length "";
        proxy_set_header X-Original-URI $request_uri;
    }
EOF
    return <<'EOF' . $auth . <<'EOF';
# (not a recipe: log lines at the handshake, so that a request another
# module keeps alive shows by a line that comes late)
signaller_log_at handshake;

limit_req_zone $binary_remote_addr zone=ws:10m rate=10r/s;
limit_conn_zone $binary_remote_addr zone=wsconn:10m;

map $http_origin $signaller_origin_ok {
    default 0;
    ~^https://(www\.)?example\.com$ 1;
}

upstream app {
    server 127.0.0.1:%%PORT_1%%;
}

# the application auth_request asks: it decides on a token in the
# original request's query string (X-Original-URI), or a cookie
server {
    listen 127.0.0.1:%%PORT_1%%;
    location = /check {
        if ($http_cookie ~ "(^|;\s*)session=good(;|$)") {
            return 204;
        }
        if ($http_x_original_uri ~ "[?&]token=good(&|$)") {
            return 204;
        }
        if ($http_x_original_uri ~ "[?&]token=oops(&|$)") {
            return 500;
        }
        if ($http_x_original_uri ~ "[?&]token=") {
            return 403;
        }
        return 401;
    }
}

server {
    %%LISTEN%%

    # limit_req: handshakes per second per address
    location /rate/ {
        signaller on;
        limit_req zone=ws burst=20 nodelay;
        limit_req_status 429;
    }

    # limit_conn: open WebSockets per address
    location /conn/ {
        signaller on;
        limit_conn wsconn 10;
    }

    # allow/deny: only an office network may listen (here the office is
    # the loopback network, the client's)...
    location /office/ {
        signaller on;
    }
    location ~ ^/office/listen/ {
        signaller on;
        allow 127.0.0.0/8;
        deny all;
    }
    # ... and here it is a network the client is not in
    location /remote/ {
        signaller on;
    }
    location ~ ^/remote/listen/ {
        signaller on;
        allow 192.0.2.0/24;
        deny all;
    }

    # map on $http_origin
    location /web/ {
        signaller on;
        signaller_origin any;
        if ($signaller_origin_ok = 0) {
            return 403;
        }
    }
    # with signaller_refusal close: nginx's refusals stay HTTP statuses
    location /web-close/ {
        signaller on;
        signaller_origin any;
        signaller_refusal close;
        if ($signaller_origin_ok = 0) {
            return 403;
        }
    }
    # the same without signaller_origin any: the module's same-origin
    # rule still applies after the map
    location /web-strict/ {
        signaller on;
        if ($signaller_origin_ok = 0) {
            return 403;
        }
    }

EOF
}
EOF
}

# A pair whose listener was opened (with probe => 1) as $l: the connector
# at $path, steered by $layout; then a message each way and the closing
# handshake. Returns nothing; asserts the connector's 101.
sub complete_pair {
    my ($r, $l, $path, $layout, $name, %o) = @_;
    my $c = $r->ws($path, $r->layout_opts($layout, $l), %o);
    is($c->status, 101, "$name: connector 101");
    $c->send_text("offer $name");
    msg_is($l, OP_TEXT, "offer $name", "$name: connector to listener");
    $l->send_binary("answer\x00");
    msg_is($c, OP_BINARY, "answer\x00", "$name: listener to connector");
    finish_pipe($l, $c, $name);
}

sub recipes {
    my ($workers) = @_;
    my $r = Signaller::Test->new(workers => $workers);
    # nginx logs a missing unix socket at crit: the application that is
    # not there
    $r->allow_log(qr/\[crit\] .*connect\(\) to unix:\S+\/no-app\.sock failed/);
    $r->run(recipes_conf());
    my $w = "$workers worker" . ($workers > 1 ? 's' : '');
    # one layout per recipe: crossing when there are several workers
    my $cross = $workers > 1 ? 'cross' : undef;

    # limit_req: 10r/s, burst=20, nodelay: the first 21 handshakes at once
    # are admitted (the first plus a burst of 20) however slow the client,
    # the next within a few get 429; the WebSockets opened meanwhile stay
    # open, and once the rate has freed a slot a connector completes the
    # first listener's pair.
    {
        my $h = $r->handle;
        my $l = $r->ws("/rate/listen/$h", probe => 1);
        is($l->status, 101, "limit_req ($w): first handshake 101");
        my (@open, @st);
        while (@st < 200) {
            my $c = $r->ws('/rate/listen/' . $r->handle);
            push @st, $c->status // 'none';
            push @open, $c;
            last if $st[-1] ne '101';
        }
        is_deeply([@st[0 .. 19]], [(101) x 20],
            "limit_req ($w): a burst of 20 more admitted");
        is($st[-1], 429, "limit_req ($w): past the burst, 429");
        is(scalar(grep { $_ ne '101' } @st), 1,
            "limit_req ($w): every handshake before the 429 got 101");
        diag("limit_req ($w): 429 after " . (@st - 1) . ' more handshakes')
            if @st > 23;
        $_->close for @open;
        sleep 0.35;    # 10r/s: three slots free again
        complete_pair($r, $l, "/rate/connect/$h", $cross,
            "limit_req ($w): the first listener's pair");
    }

    # limit_conn wsconn 10: ten open WebSockets (four pairs, two waiting
    # listeners), the eleventh refused with 503, whether a listener or a
    # connector; the open ones relay on; a finished pair frees its two.
    {
        my @pairs = map {
            [$r->pair(base => '/conn', layout => $cross)]
        } 1 .. 4;
        my @wait = map {
            my $h = $r->handle;
            my $l = $r->ws("/conn/listen/$h", probe => 1);
            $l->{handle} = $h;
            $l;
        } 1 .. 2;
        is_deeply([map { $_->status } map(@$_, @pairs), @wait],
            [(101) x 10], "limit_conn ($w): ten open WebSockets");
        is($r->ws_status('/conn/listen/' . $r->handle), 503,
            "limit_conn ($w): an eleventh listener gets 503");
        is($r->ws_status("/conn/connect/$wait[0]{handle}"), 503,
            "limit_conn ($w): an eleventh connector gets 503");
        my $i = 0;
        for my $p (@pairs) {
            $i++;
            $p->[1]->send_text("still $i");
            msg_is($p->[0], OP_TEXT, "still $i",
                "limit_conn ($w): pair $i relays past the limit");
        }
        my $p = shift @pairs;
        finish_pipe(@$p, "limit_conn ($w): pair 1");
        complete_pair($r, $wait[0], "/conn/connect/$wait[0]{handle}",
            $cross, "limit_conn ($w): a freed slot");
        finish_pipe(@$_, "limit_conn ($w): a pair") for @pairs;
        close_listener($wait[1], "limit_conn ($w): the last listener");
    }

    # allow/deny on /listen only: inside the network a pair completes;
    # outside it a listener gets 403, and a connector is not gated: it
    # gets 404 on a free handle and pairs with a listener opened from
    # inside (the locations share the zone, so the handle)
    for my $layout ($r->layouts) {
        my $n = "allow/deny ($w, $layout)";
        my $h = $r->handle;
        my $l = $r->ws("/office/listen/$h", probe => 1);
        is($l->status, 101, "$n: a listener in the network: 101");
        complete_pair($r, $l, "/office/connect/$h", $layout, "$n: office");

        is($r->ws_status('/remote/listen/' . $r->handle), 403,
            "$n: a listener outside the network: 403");
        is($r->ws_status('/remote/connect/' . $r->handle), 404,
            "$n: a connector outside: not gated (404: no listener)");
        $h = $r->handle;
        $l = $r->ws("/office/listen/$h", probe => 1);
        is($l->status, 101, "$n: another listener in the network: 101");
        complete_pair($r, $l, "/remote/connect/$h", $layout,
            "$n: connector from outside");
    }

    # auth_request: the application's 204 admits a listener (a pair then
    # completes, its connector not asked), its 401 and 403 refuse it with
    # the same status, anything else (or no application) gives 500; a
    # refused listener leaves no trace (its handle has no listener); the
    # application decides on the query string or on a cookie
    SKIP: {
        skip 'nginx has no auth_request module (--with-http_auth_request_'
            . 'module missing from nginx -V)', 1 unless $has_auth_request;
        for my $layout ($r->layouts) {
            my $n = "auth_request ($w, $layout)";
            my $h = $r->handle;
            my $l = $r->ws("/signal/listen/$h?token=good", probe => 1);
            is($l->status, 101, "$n: application says 204: 101");
            # the subrequest is done with: the request is released at the
            # handshake, its line logged while the listener still waits
            my $until = time + scaled(2);
            sleep 0.02 until $r->access_log($h) || time > $until;
            is(scalar($r->access_log($h)), 1,
                "$n: logged at the handshake, as any listener");
            complete_pair($r, $l, "/signal/connect/$h", $layout, $n);
        }
        my $n = "auth_request ($w)";
        for (['?token=bad', 403], ['', 401], ['?token=oops', 500],
            ['?x=1&token=good', 101])
        {
            my ($q, $want) = @$_;
            my $h = $r->handle;
            is($r->ws_status("/signal/listen/$h$q"), $want,
                "$n: listen$q: $want");
            next if $want == 101;
            is($r->ws_status("/signal/connect/$h"), 404,
                "$n: listen$q refused: no listener on its handle");
        }
        my $h = $r->handle;
        is($r->ws_status("/signal/listen/$h",
            headers => [[Cookie => 'theme=dark; session=good']]), 101,
            "$n: the handshake's cookie reaches the application: 101");
        is($r->ws_status('/down/listen/' . $r->handle), 500,
            "$n: the application cannot be reached: 500");
        # the application saw every listen and no connect
        my @log = map { $_->{request} } $r->access_log;
        my $checks = grep { m{^GET /check } } @log;
        my $listens = grep { m{ /signal/listen/} } @log;
        is($listens, 5 + (() = $r->layouts), "$n: listens logged");
        is($checks, $listens, "$n: the application asked once per listen,"
            . ' never for a connect');
    }

    # map on $http_origin: the listed origins pass (a pair completes with
    # a cross-origin page, as signaller_origin any leaves it to the map),
    # others and none get 403; without signaller_origin any the module's
    # same-origin rule refuses what the map let through
    {
        for my $layout ($r->layouts) {
            my $n = "map \$http_origin ($w, $layout)";
            my $h = $r->handle;
            my $l = $r->ws("/web/listen/$h", probe => 1,
                origin => 'https://www.example.com');
            is($l->status, 101, "$n: https://www.example.com: 101");
            complete_pair($r, $l, "/web/connect/$h", $layout,
                "$n: https://example.com", origin => 'https://example.com');
        }
        my $n = "map \$http_origin ($w)";
        for my $o ('https://evil.example', 'http://example.com',
            'https://example.com.evil.net', 'https://wwwxexample.com', undef)
        {
            my $d = $o // 'no Origin';
            is($r->ws_status('/web/listen/' . $r->handle, origin => $o), 403,
                "$n: listen, $d: 403");
        }
        is($r->ws_status('/web/connect/' . $r->handle,
            origin => 'https://evil.example'), 403,
            "$n: connect, https://evil.example: 403");
        is($r->ws_status('/web-close/listen/' . $r->handle,
            origin => 'https://evil.example'), 403,
            "$n: nginx's 403 stays one with signaller_refusal close");
        is($r->ws_status('/web-close/listen/' . $r->handle,
            origin => 'https://example.com'), 101,
            "$n: ... which admits the listed origins");
        is($r->ws_status('/web-strict/listen/' . $r->handle,
            origin => 'https://example.com'), 403,
            "$n: without signaller_origin any, the same-origin rule refuses");
        is($r->ws_status('/web-strict/listen/' . $r->handle,
            host => 'example.com', origin => 'https://example.com'), 101,
            "$n: ... and admits the same origin");
    }

    $r->stop;
}

recipes($_) for 1, 2;

done_testing;
