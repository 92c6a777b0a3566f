#!/usr/bin/perl

# The pairing table's zone (issue 3), 4 workers: a tiny zone fills up with
# waiting listeners until /listen answers 503 with an [error] line naming
# the zone; sessions already open keep relaying; memory comes back when
# sessions end. Zones are separate handle namespaces; locations on one zone
# share one.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time sleep);
use Signaller::Test;
use Signaller::Workers qw(status status_line wait_status);

my $t_start = time;
my $t = Signaller::Test->new(workers => 4)->require_module;
$t->run(<<'EOF');
server {
    %%LISTEN%%
    location = /signaller_status { signaller_status; }
    location /tiny/ {
        signaller on;
        signaller_zone tiny 32k;
        signaller_listen_timeout 20s;
    }
    location /a/ {
        signaller on;
        signaller_zone za 64k;
        signaller_listen_timeout 20s;
    }
    location /a2/ {
        signaller on;
        signaller_zone za 64k;
        signaller_listen_timeout 20s;
    }
    location /b/ {
        signaller on;
        signaller_zone zb 64k;
        signaller_listen_timeout 20s;
    }
}
EOF

my $st = status($t);
my $base = $st->{tiny};
ok($base, 'status of the tiny zone: ' . status_line($base));
ok($st->{za} && $st->{zb}, 'status lists zones za and zb');
ok(!$st->{signaller}, 'no default zone when no location uses it');

### fill the tiny zone ###

# a pipe opened before the zone is full, in each layout
my %pipes = map { $_ => [$t->pair(base => '/tiny', layout => $_)] }
    $t->layouts;

my (@l, $full);
for my $n (1 .. 3000) {
    my $h = $t->handle;
    my $l = $t->ws("/tiny/listen/$h");
    if (($l->status // 0) == 503) {
        $full = $l;
        last;
    }
    unless (($l->status // 0) == 101) {
        fail("listener $n: status " . ($l->status // 'none'));
        last;
    }
    $l->{handle} = $h;
    push @l, $l;
}
ok($full, 'tiny zone: /listen gets 503 after ' . scalar(@l)
    . ' waiting listeners');
cmp_ok(scalar @l, '>=', 20, 'the tiny zone held at least 20 listeners');
my $s = status($t)->{tiny};
is($s->{waiting}, scalar @l, 'status counts them: ' . status_line($s));

my @err = $t->grep_log(qr/\[error\].*signaller zone "tiny" is full/);
ok(@err, '[error] line names the zone') or diag($t->read_file('error.log'));
note($err[0]) if @err;
ok(!$t->grep_log(qr/\[(?:crit|alert|emerg)\].*(?:tiny|slab)/),
    'no crit/alert for the full zone');

# still full: another attempt, and the other zones are unaffected
is($t->ws('/tiny/listen/' . $t->handle)->status, 503, 'still 503');
{
    my ($l, $c) = $t->pair(base => '/a');
    $c->send_text('other zone');
    msg_is($l, OP_TEXT, 'other zone', 'other zones work while tiny is full');
    finish_pipe($l, $c, 'zone za');
}

# sessions that exist keep working
for my $layout (sort keys %pipes) {
    my ($l, $c) = @{$pipes{$layout}};
    $l->send_binary('x' x 20000);
    msg_is($c, OP_BINARY, 'x' x 20000, "[$layout] pipe relays in a full zone");
    $c->send_text('y');
    msg_is($l, OP_TEXT, 'y', "[$layout] and back");
}
# a waiting listener can still be paired (a connector needs no memory)
{
    my $l = shift @l;
    my $c = $t->ws("/tiny/connect/$l->{handle}");
    is($c->status, 101, 'connector pairs with a listener of the full zone');
    $l->send_text('paired in a full zone');
    msg_is($c, OP_TEXT, 'paired in a full zone', 'and the pipe relays');
    finish_pipe($l, $c, 'paired in a full zone');
}
# pairing freed one entry
{
    my $h = $t->handle;
    my $l = $t->ws("/tiny/listen/$h");
    is($l->status, 101, 'an entry freed by pairing can be used again');
    $l->{handle} = $h;
    push @l, $l;
}
is($t->ws('/tiny/listen/' . $t->handle)->status, 503, 'and full again');

# closing listeners gives memory back
my @gone = splice @l, 0, 10;
$_->send_close(1000) for @gone;
$_->wait_eof(3) for @gone;
my $w = wait_status($t, 'tiny', sub { $_[0]{waiting} == @l }, 2);
is($w->{waiting}, scalar @l, '10 listeners closed: ' . status_line($w));
my $ok = 0;
for (1 .. 10) {
    my $h = $t->handle;
    my $l = $t->ws("/tiny/listen/$h");
    $ok++ if ($l->status // 0) == 101;
    $l->{handle} = $h;
    push @l, $l;
}
is($ok, 10, '10 new listeners fit again');

# a dropped TCP connection frees its entry too
my @reset = splice @l, 0, 5;
$_->reset for @reset;
$w = wait_status($t, 'tiny', sub { $_[0]{waiting} == @l }, 2);
is($w->{waiting}, scalar @l, '5 listeners reset: entries freed');
$ok = 0;
for (1 .. 5) {
    my $l = $t->ws('/tiny/listen/' . $t->handle);
    $ok++ if ($l->status // 0) == 101;
    push @l, $l;
}
is($ok, 5, '5 new listeners fit again');

# the end: everything back
for my $layout (sort keys %pipes) {
    finish_pipe(@{$pipes{$layout}}, "[$layout] pipe of the full zone");
}
$_->send_close(1000) for @l;
$_->wait_eof(3) for @l;
my ($end) = wait_status($t, 'tiny',
    sub { $_[0]{waiting} == 0 && $_[0]{free} == $base->{free} }, 3);
is($end->{waiting}, 0, 'tiny zone: waiting 0 at the end');
is($end->{free}, $base->{free}, "tiny zone: free pages back to $base->{free}");

### namespaces ###

# two zones: the same handle in each, each connector finds its own
{
    my $h = $t->handle;
    my $la = $t->ws("/a/listen/$h");
    my $lb = $t->ws("/b/listen/$h");
    is($la->status, 101, 'zone za: listener');
    is($lb->status, 101, 'zone zb: listener on the same handle');
    is($t->ws("/tiny/connect/$h")->status, 404,
        'a third zone does not see the handle');
    my $ca = $t->ws("/a/connect/$h");
    is($ca->status, 101, 'za connector');
    $la->send_text('I am a');
    msg_is($ca, OP_TEXT, 'I am a', 'za connector pairs with the za listener');
    is($t->ws("/a/connect/$h")->status, 404, 'za handle taken');
    my $cb = $t->ws("/b/connect/$h");
    is($cb->status, 101, 'zb connector');
    $lb->send_text('I am b');
    msg_is($cb, OP_TEXT, 'I am b', 'zb connector pairs with the zb listener');
    finish_pipe($la, $ca, 'za');
    finish_pipe($lb, $cb, 'zb');
}

# two locations, one zone: one namespace, in both layouts
for my $layout ($t->layouts) {
    my $h = $t->handle;
    my $l = $t->ws("/a/listen/$h", probe => 1);
    is($l->status, 101, "[$layout] listener in /a/");
    is($t->ws("/a2/listen/$h")->status, 409,
        "[$layout] /a2/ (same zone) sees it: 409");
    is($t->ws("/b/connect/$h")->status, 404,
        "[$layout] /b/ (other zone) does not: 404");
    my $c = $t->ws("/a2/connect/$h", $t->layout_opts($layout, $l));
    is($c->status, 101, "[$layout] connector in /a2/ pairs");
    $c->send_binary("\x01\x02");
    msg_is($l, OP_BINARY, "\x01\x02", "[$layout] across locations: c -> l");
    $l->send_text('ok');
    msg_is($c, OP_TEXT, 'ok', "[$layout] across locations: l -> c");
    finish_pipe($l, $c, "[$layout] across locations");
}

my $fin = status($t);
is($fin->{$_}{waiting}, 0, "zone $_: waiting 0 at the end") for qw(za zb);

$t->stop;
diag(sprintf 'zone.t: %.1f s', time - $t_start);
done_testing;
