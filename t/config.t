#!/usr/bin/perl

# Configuration: nginx -t accepts good configurations in every context and
# rejects bad values with a message naming the directive; inheritance and
# zone sharing at run time.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Signaller::Test;

my $t = Signaller::Test->new(workers => 1)->require_module;

sub accepts {
    my ($http, $name) = @_;
    my ($rc, $out) = $t->test_config($http);
    ok($rc == 0, "accepted: $name") or diag($out);
}

sub rejects {
    my ($http, $name, $re) = @_;
    my ($rc, $out) = $t->test_config($http);
    ok($rc != 0, "rejected: $name") or return;
    like($out, qr/\[emerg\].*$re/, "rejected: $name: message") if $re;
}

sub srv { "server { listen 127.0.0.1:%%PORT%%; $_[0] }" }
sub loc { srv("location / { signaller on; $_[0] }") }

### accepted ###

accepts(loc(''), 'signaller on only');
accepts(srv('location / { signaller off; }'), 'signaller off');
accepts(<<'EOF', 'every directive in every context');
signaller_zone sig 2m;
signaller_listen_timeout 5s;
signaller_pipe_timeout 10s;
signaller_max_message_size 1k;
signaller_max_messages 8;
signaller_origin any;
server {
    listen 127.0.0.1:%%PORT%%;
    signaller on;
    signaller_zone sig 2m;
    signaller_listen_timeout 1m;
    signaller_pipe_timeout 500ms;
    signaller_max_message_size 1m;
    signaller_max_messages 1000;
    signaller_origin '^https://a\.example$';
    location / {
        signaller on;
        signaller_zone other 1m;
        signaller_listen_timeout 2s;
        signaller_pipe_timeout 3s;
        signaller_max_message_size 100;
        signaller_max_messages 1;
        signaller_origin 'b\.example';
        signaller_origin '(?i)^https?://c\.example(:\d+)?$';
    }
}
EOF
accepts(loc('signaller_zone z;'), 'zone without size');
accepts(srv('location /a/ { signaller on; signaller_zone z 1m; }
    location /b/ { signaller on; signaller_zone z 1m; }'),
    'same zone, same size twice');
accepts(loc('signaller_listen_timeout 1h;'), 'listen timeout 1h');
accepts(loc('signaller_max_message_size 16m;'), 'size 16m');

### rejected ###

rejects(loc('signaller_zone;'), 'signaller_zone without arguments',
    qr/signaller_zone/);
rejects(srv('location / { signaller maybe; }'), 'signaller maybe',
    qr/signaller/);
rejects(srv('location / { signaller; }'), 'signaller without argument',
    qr/signaller/);
rejects(srv('location / { signaller on; signaller on; }'),
    'signaller duplicate', qr/signaller/);
rejects(srv('location / { signaller on off; }'), 'signaller on off',
    qr/signaller/);
rejects(loc('signaller_zone z abc;'), 'zone size abc', qr/signaller_zone|abc/);
rejects(loc('signaller_zone z 1x;'), 'zone size 1x', qr/signaller_zone|1x/);
rejects(loc('signaller_zone z -1m;'), 'zone size -1m',
    qr/signaller_zone|-1m/);
rejects(loc('signaller_zone z 1k;'), 'zone size too small',
    qr/signaller_zone|small|"z"/);
rejects(loc('signaller_zone z 1m extra;'), 'zone extra argument',
    qr/signaller_zone/);
rejects(srv('location /a/ { signaller on; signaller_zone z 1m; }
    location /b/ { signaller on; signaller_zone z 2m; }'),
    'zone name reused with another size', qr/"?z"?/);
rejects('signaller_zone z 1m; ' . loc('signaller_zone z 4m;'),
    'zone size mismatch across levels', qr/"?z"?/);
for my $d (qw(signaller_listen_timeout signaller_pipe_timeout)) {
    rejects(loc("$d abc;"), "$d abc", qr/$d|abc/);
    rejects(loc("$d 10x;"), "$d 10x", qr/$d|10x/);
    rejects(loc("$d -1s;"), "$d -1s", qr/$d|-1s/);
    rejects(loc("$d;"), "$d without argument", qr/$d/);
    rejects(loc("$d 1s 2s;"), "$d two arguments", qr/$d/);
    rejects(loc("$d 1s; $d 2s;"), "$d duplicate", qr/$d/);
}
rejects(loc('signaller_max_message_size abc;'), 'size abc',
    qr/signaller_max_message_size|abc/);
rejects(loc('signaller_max_message_size 1x;'), 'size 1x',
    qr/signaller_max_message_size|1x/);
rejects(loc('signaller_max_message_size -1;'), 'size -1',
    qr/signaller_max_message_size|-1/);
rejects(loc('signaller_max_message_size;'), 'size without argument',
    qr/signaller_max_message_size/);
rejects(loc('signaller_max_messages abc;'), 'messages abc',
    qr/signaller_max_messages|abc/);
rejects(loc('signaller_max_messages -1;'), 'messages -1',
    qr/signaller_max_messages|-1/);
rejects(loc('signaller_max_messages 1.5;'), 'messages 1.5',
    qr/signaller_max_messages|1\.5/);
rejects(loc('signaller_max_messages 1 2;'), 'messages two arguments',
    qr/signaller_max_messages/);
rejects(loc('signaller_origin;'), 'origin without argument',
    qr/signaller_origin/);
rejects(loc('signaller_origin "(";'), 'origin bad regex', qr/\(|regex|pcre/i);
rejects(loc('signaller_origin "a[";'), 'origin bad regex 2',
    qr/a\[|regex|pcre/i);
rejects(loc('signaller_origin a b;'), 'origin two arguments',
    qr/signaller_origin/);
rejects(loc('signaller_wrong on;'), 'unknown directive', qr/signaller_wrong/);

# wrong contexts
{
    my ($rc, $out) = $t->test_config('', main => 'signaller_max_messages 3;');
    ok($rc != 0, 'rejected: directive in main context') or diag($out);
    ($rc, $out) = $t->test_config(srv('location / { if ($arg_x) {
        signaller on; } }'));
    ok($rc != 0, 'rejected: signaller in if') or diag($out);
}

# without load_module the directives are unknown (the test is real)
{
    my ($rc, $out) = $t->test_config(loc(''), load_module => '');
    ok($rc != 0, 'sanity: without the module signaller is unknown');
}

### inheritance and zones at run time ###

$t->run(<<'EOF');
signaller_max_messages 2;
signaller_listen_timeout 10s;
server {
    %%LISTEN%%
    signaller_max_message_size 10;
    location / { signaller on; }
    location /big/ {
        signaller on;
        signaller_max_message_size 1k;
        signaller_max_messages 5;
    }
    location /z1/ { signaller on; signaller_zone shared 1m; }
    location /z2/ { signaller on; signaller_zone shared 1m; }
    location /z3/ { signaller on; signaller_zone third 1m; }
}
server {
    %%LISTEN_1%%
    signaller on;
    location /x/ { }
    location /off/ { signaller off; }
}
EOF

my $p1 = $t->port(1);

{
    my ($l, $c) = $t->pair;
    $l->send_text('x' x 10);
    msg_is($c, OP_TEXT, 'x' x 10, 'server-level size 10: 10 bytes pass');
    $l->send_text('y');
    msg_is($c, OP_TEXT, 'y', 'http-level max messages 2: 2nd delivered');
    close_is($c, 4002, 'Too Many Messages', 'http-level max messages 2');
    close_is($l, 4002, 'Too Many Messages', 'http-level max messages 2 (l)');
}
{
    my ($l, $c) = $t->pair;
    $c->send_text('x' x 11);
    close_is($c, 1009, 'Message Too Big', 'server-level size inherited');
    close_is($l, 4003, 'Peer Gone', 'server-level size inherited (other)');
}
{
    my ($l, $c) = $t->pair(base => '/big');
    $l->send_text('x' x 1024);
    msg_is($c, OP_TEXT, 'x' x 1024, 'location overrides size');
    $l->send_text('2');
    $l->send_text('3');
    msg_is($c, OP_TEXT, '2', 'location overrides messages (2)');
    msg_is($c, OP_TEXT, '3', 'location overrides messages (3)');
    no_frame($c, 0.3, 'no 4002 after 3 messages');
    $l->send_text('x' x 1025);
    close_is($l, 1009, 'Message Too Big', 'location size 1k + 1');
    close_is($c, 4003, 'Peer Gone', 'location size 1k + 1 (other)');
}

# zones: / and /big/ share the default zone, /z1/ and /z2/ share "shared",
# /z3/ is alone; the second server shares the default zone
{
    my $h = $t->handle;
    my $l = $t->ws("/listen/$h");
    is($t->ws("/z1/connect/$h")->status, 404, 'other zone: 404');
    is($t->ws("/z3/connect/$h")->status, 404, 'third zone: 404');
    my $lz = $t->ws("/z1/listen/$h");
    is($lz->status, 101, 'same handle in another zone: 101');
    is($t->ws("/z2/listen/$h")->status, 409, 'zone shared by name: 409');
    my $cz = $t->ws("/z2/connect/$h");
    is($cz->status, 101, 'zone shared by name: pairs');
    $lz->send_text('z');
    msg_is($cz, OP_TEXT, 'z', 'zone pipe relays');
    finish_pipe($lz, $cz, 'zone pipe');
    my $c = $t->ws("/x/connect/$h", port => $p1);
    is($c->status, 101, 'default zone shared across servers');
    $l->send_text('d');
    msg_is($c, OP_TEXT, 'd', 'cross-server pipe relays');
    finish_pipe($l, $c, 'default zone pipe');
}
{
    my $h = $t->handle;
    my $l = $t->ws("/big/listen/$h");
    my $c = $t->ws("/connect/$h");
    is($c->status, 101, 'locations on the default zone share handles');
    finish_pipe($l, $c, 'big/default');
}

# server-level signaller on is inherited; off turns it off
{
    my $l = $t->ws('/x/listen/' . $t->handle, port => $p1);
    is($l->status, 101, 'server-level signaller on inherited');
    close_listener($l, 'server-level');
    my $o = $t->ws('/off/listen/' . $t->handle, port => $p1);
    isnt($o->status, 101, 'signaller off: not served');
}

$t->stop;
done_testing;
