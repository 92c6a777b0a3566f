#!/usr/bin/perl

# A waiting listener: read while it waits (ping/pong, close, TCP drop free
# the handle at once), duplicate listen 409, failed connects leave it
# waiting, a second connector gets 404.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time sleep);
use Signaller::Test;
use Signaller::Test::Client;

my $t = Signaller::Test->new->require_module;
$t->run(<<'EOF');
server {
    %%LISTEN%%
    location / {
        signaller on;
        signaller_listen_timeout 10s;
    }
    location /strict/ {
        signaller on;
        signaller_origin '^http://ok\.example$';
    }
}
EOF

# ping / pong while waiting
{
    my $h = $t->handle;
    my $l = $t->ws("/listen/$h");
    is($l->status, 101, 'listener');
    for my $p ('hello', '', 'x' x 125, "\x00\xff\x80") {
        my $t0 = time;
        $l->send_ping($p);
        my $f = $l->read_frame(2);
        my $dt = time - $t0;
        ok($f && !$f->{eof} && $f->{opcode} == OP_PONG && $f->{payload} eq $p
            && $f->{fin}, 'waiting ping (' . length($p) . ' bytes): pong with '
            . 'the same payload');
        cmp_ok($dt, '<', scaled(1), 'pong comes at once, not at pairing');
    }
    $l->send_pong('unsolicited');
    no_frame($l, 0.3, 'unsolicited pong ignored');
    is($t->ws("/listen/$h")->status, 409, 'still waiting after pings');
    my $c = $t->ws("/connect/$h");
    is($c->status, 101, 'connector pairs after pings');
    no_frame($c, 0.3, 'pings are not relayed to the connector');
    finish_pipe($l, $c, 'after pings');
}

# duplicate listen: 409, the first listener is unaffected
{
    my $h = $t->handle;
    my $l = $t->ws("/listen/$h");
    is($l->status, 101, 'listener');
    my $d = $t->ws("/listen/$h");
    is($d->status, 409, 'second listen: 409');
    is($t->ws("/listen/$h")->status, 409, 'third listen: 409');
    $l->send_text('mine');
    my $c = $t->ws("/connect/$h");
    is($c->status, 101, 'connect after 409s');
    msg_is($c, OP_TEXT, 'mine', 'connector paired with the first listener');
    finish_pipe($l, $c, 'after 409');
}

# a waiting listener's close frees its handle at once
for my $code (1000, 1001, 3000, undef) {
    my $n = 'waiting close ' . ($code // 'empty');
    my $h = $t->handle;
    my $l = $t->ws("/listen/$h");
    is($l->status, 101, "$n: listener");
    $l->send_close($code);
    my %r = (1000 => 'Normal Closure', 1001 => 'Going Away', 3000 => '');
    close_is($l, $code, defined $code ? $r{$code} : '', "$n: echoed",
        reply => 0);
    is($t->ws("/connect/$h")->status, 404, "$n: connect finds nothing");
    my $l2 = $t->ws("/listen/$h");
    is($l2->status, 101, "$n: handle free at once");
    close_listener($l2, "$n relisten");
}

# TCP drop of a waiting listener frees its handle at once
for my $how ('close', 'reset', 'shutdown_write') {
    my $n = "waiting TCP $how";
    my $h = $t->handle;
    my $l = $t->ws("/listen/$h");
    is($l->status, 101, "$n: listener");
    $l->$how;
    sleep 0.2;
    is($t->ws("/connect/$h")->status, 404, "$n: connect finds nothing");
    my $l2 = $t->ws("/listen/$h");
    is($l2->status, 101, "$n: handle free");
    close_listener($l2, "$n relisten");
}

# failed connects leave the listener waiting
for my $layout ($t->layouts) {
    my $h = $t->handle;
    my $l = $t->ws("/strict/listen/$h", origin => 'http://ok.example',
        probe => 1);
    my @lo = $t->layout_opts($layout, $l);
    is($l->status, 101, 'listener');
    my @bad = (
        [405, method => 'POST'],
        [400, connection => 'keep-alive'],
        [400, upgrade => undef],
        [400, proto => 'HTTP/1.0'],
        [426, version => '12'],
        [400, key => undef],
        [400, key => 'short'],
        [403, origin => 'http://evil.example'],
        [403, origin => undef],
    );
    for my $b (@bad) {
        my ($want, @o) = @$b;
        my $c = $t->ws("/strict/connect/$h", origin => 'http://ok.example',
            @lo, @o);
        is($c->status, $want, "[$layout] failed connect ($o[0]): $want");
        $c->close;
    }
    # a connect dropped mid-request
    my $half = $t->client;
    $half->send_raw("GET /strict/connect/$h HTTP/1.1\r\nHost: x\r\n");
    sleep 0.1;
    $half->close;
    is($t->ws("/strict/listen/$h", origin => 'http://ok.example')->status,
        409, 'listener still holds the handle');
    $l->send_ping('alive');
    my $f = $l->read_frame(2);
    ok($f && !$f->{eof} && $f->{opcode} == OP_PONG, 'listener still served');
    my $c = $t->ws("/strict/connect/$h", origin => 'http://ok.example',
        @lo);
    is($c->status, 101, "[$layout] good connect after the failed ones");
    $c->send_text('hi');
    msg_is($l, OP_TEXT, 'hi', 'pipe works');
    finish_pipe($l, $c, 'after failed connects');
}

# second connector: 404; the handle is free for a new listener at once
for my $layout ($t->layouts) {
    my $h = $t->handle;
    my ($l, $c) = $t->pair(handle => $h, layout => $layout);
    is($t->ws("/connect/$h", $t->layout_opts($layout, $l))->status, 404,
        "[$layout] second connector: 404");
    my $l2 = $t->ws("/listen/$h", probe => 1);
    is($l2->status, 101, 'new listen on a paired handle: 101');
    my $c2 = $t->ws("/connect/$h", $t->layout_opts($layout, $l2));
    is($c2->status, 101, 'new connect pairs with the new listener');
    $l2->send_text('second pipe');
    msg_is($c2, OP_TEXT, 'second pipe', 'second pipe relays');
    $l->send_text('first pipe');
    msg_is($c, OP_TEXT, 'first pipe', 'first pipe unaffected');
    finish_pipe($l, $c, 'first pipe');
    finish_pipe($l2, $c2, 'second pipe');
}

# a closed pipe frees nothing twice: listen/connect again after a pipe ends
{
    my $h = $t->handle;
    my ($l, $c) = $t->pair(handle => $h);
    finish_pipe($l, $c, 'pipe 1');
    my ($l2, $c2) = eval { $t->pair(handle => $h) };
    ok($l2, 're-pair the same handle after a pipe ended') or diag($@);
    finish_pipe($l2, $c2, 'pipe 2') if $l2;
}

# many waiting listeners pair with the right connectors
{
    my @h = map { $t->handle } 1 .. 50;
    my %l = map { $_ => $t->ws("/listen/$_") } @h;
    is(scalar(grep { $l{$_}->status == 101 } @h), 50, '50 listeners wait');
    $l{$_}->send_text("I am $_") for @h;
    my $good = 0;
    for my $h (reverse @h) {
        my $c = $t->ws("/connect/$h");
        my $m = $c->read_message(3);
        $good++ if $c->status == 101 && $m && ($m->{payload} // '') eq
            "I am $h";
        $c->close;
    }
    is($good, 50, 'each connector pairs with its own listener');
    for my $h (@h) {
        $l{$h}->read_message(3);
        $l{$h}->close;
    }
}

$t->stop;
done_testing;
