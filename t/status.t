#!/usr/bin/perl

# signaller_status (issue 11): the text line as before, JSON
# (?format=json or Accept: application/json) and the Prometheus text
# format (?format=prometheus), read back with a real parser (Debian's
# python3-prometheus-client); every figure checked against the traffic
# this test makes, summed over 2 workers, pairs in one worker and across
# workers; the counters survive a reload that keeps the zone.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use JSON::PP;
use Test::More;
use Time::HiRes qw(time sleep);
use Signaller::Test;

my $PYTHON = '/usr/bin/python3';
plan(skip_all => 'needs python3-prometheus-client')
    if system("$PYTHON -c 'import prometheus_client' 2>/dev/null");

my $t = Signaller::Test->new(workers => 2)->require_module;
my $CONF = <<'EOF';
server {
    %%LISTEN%%
    location = /status { signaller_status; }
    location / {
        signaller on;
        signaller_origin "^https://good$";
    }
    location /r/ {
        signaller on;
        signaller_refusal close;
        signaller_origin any;
    }
    location /p/ {
        signaller on;
        signaller_ping_interval 200ms;
    }
}
EOF
$t->run($CONF);

sub get {
    my ($query, @headers) = @_;
    my $c = $t->client;
    $c->send_raw("GET /status$query HTTP/1.1\r\nHost: x\r\n"
        . join('', map { "$_\r\n" } @headers) . "Connection: close\r\n\r\n");
    my $data = '';
    my $until = time + scaled(3);
    while (time < $until) {
        my $n = sysread($c->sock, my $buf, 65536);
        if (!defined $n) { sleep 0.01; next }
        last if $n == 0;
        $data .= $buf;
    }
    my ($head, $body) = split /\r\n\r\n/, $data, 2;
    return ($head // '', $body // '');
}

# The Prometheus output as the parser reads it: "name{labels}" => value.
sub scrape {
    my ($head, $body) = get('?format=prometheus');
    like($head, qr{Content-Type: text/plain; version=0\.0\.4},
        'Prometheus content type');
    my $script = <<'PY';
import sys
from prometheus_client.parser import text_string_to_metric_families
for family in text_string_to_metric_families(sys.stdin.read()):
    for s in family.samples:
        labels = ",".join("%s=%s" % kv for kv in sorted(s.labels.items()))
        print("%s %s{%s} %r" % (family.type, s.name, labels, s.value))
PY
    my $in = $t->write_file('scrape.txt', $body);
    my $py = $t->write_file('scrape.py', $script);
    my @out = `$PYTHON $py < $in 2>&1`;
    is($?, 0, 'the parser reads it') or diag(@out);
    my %m;
    for (@out) {
        next unless /^(\w+) (\S+) (\S+)$/;
        $m{$2} = $3 + 0;
        $m{"type:$2"} = $1;
    }
    return \%m;
}

sub wait_for {
    my ($what, $cond) = @_;
    my $until = time + scaled(3);
    my $m;
    do { $m = scrape(); return $m if $cond->($m); sleep 0.1 }
        while time < $until;
    fail("waiting for $what");
    return $m;
}

my $Z = 'zone=signaller';

# before any traffic
my $m0 = scrape();
is($m0->{"signaller_waiting_listeners{$Z}"}, 0, 'nothing waiting');
is($m0->{"signaller_workers{$Z}"}, 2, '2 workers');
is($m0->{"type:signaller_pairings_total{$Z}"}, 'counter',
    'pairings are a counter');
is($m0->{"type:signaller_waiting_listeners{$Z}"}, 'gauge',
    'waiting listeners a gauge');

# traffic: one pipe in each layout, left open; messages both ways
my (@open, $messages, $bytes);
for my $layout ('same', 'cross') {
    my ($l, $c) = $t->pair(layout => $layout,
        listener_opts => { origin => 'https://good' },
        connector_opts => { origin => 'https://good' });
    $l->send_text('x' x 10);
    msg_is($c, OP_TEXT, 'x' x 10, "[$layout] relayed");
    $c->send_binary('y' x 200);
    msg_is($l, OP_BINARY, 'y' x 200, "[$layout] relayed back");
    $messages += 2;
    $bytes += (2 + 10) + (4 + 200);
    push @open, [$l, $c];
}
my $waiting = $t->ws('/listen/' . $t->handle, origin => 'https://good');

my $m = wait_for('pipes', sub {
    $_[0]->{"signaller_crossing_pipes{$Z}"} == 1 });
is($m->{"signaller_pipes{$Z}"}, 1, 'one pipe in one worker');
is($m->{"signaller_crossing_pipes{$Z}"}, 1, 'one pipe across workers');
is($m->{"signaller_waiting_listeners{$Z}"}, 1, 'one listener waiting');
is($m->{"signaller_pairings_total{$Z}"}, 2, '2 pairings');
is($m->{"signaller_messages_total{$Z}"}, $messages, "$messages messages");
is($m->{"signaller_relayed_bytes_total{$Z}"}, $bytes, "$bytes bytes");
cmp_ok($m->{"signaller_zone_bytes{state=used,$Z}"}, '>', 0,
    'zone memory in use');
cmp_ok($m->{"signaller_zone_bytes{state=free,$Z}"}, '>', 0, 'and free');

# refusals: HTTP statuses, and close codes with signaller_refusal close
is($t->ws_status('/connect/' . $t->handle, origin => 'https://good'), 404,
    'a 404');
is($t->ws_status('/connect/' . $t->handle, origin => 'https://bad'), 403,
    'a 403');
is($t->ws_status('/connect/' . $t->handle, origin => 'https://good',
    version => 12), 426, 'a 426');
my $r = $t->ws('/r/connect/' . $t->handle);
close_is($r, 4004, 'No Such Handle', 'a 4004');

# sessions that end: 1000 both sides, 4003 and an echoed 3000, 1001 to a
# peer that does not answer pings (its peer then 4003)
finish_pipe(@{shift @open}, 'normal');
{
    my ($l, $c) = @{shift @open};
    $c->send_close(3000);
    close_is($c, 3000, '', 'echoed 3000');
    close_is($l, 4003, 'Peer Gone', 'its peer 4003');
}
{
    my ($l, $c) = $t->pair(base => '/p');
    my $m;
    do { $m = $l->read_message(3, control => 1);
         $l->send_pong($m->{payload}) if $m && $m->{opcode} == OP_PING }
        while $m && $m->{opcode} == OP_PING;
    is($m && $m->{code}, 4003, 'the peer of a silent client gets 4003');
    $l->send_close(4003);
    $c->close;
}
close_listener($waiting, 'the waiting listener');

$m = wait_for('the ends', sub {
    ($_[0]->{"signaller_sessions_ended_total{code=4003,$Z}"} // 0) >= 2 });
is($m->{"signaller_sessions_ended_total{code=1000,$Z}"}, 3,
    'ended with 1000: the pair and the waiting listener');
is($m->{"signaller_sessions_ended_total{code=3000,$Z}"}, undef,
    'an echoed 3000 has no label of its own');
is($m->{"signaller_sessions_ended_total{code=other,$Z}"}, 1,
    '... it is "other"');
is($m->{"signaller_sessions_ended_total{code=4003,$Z}"}, 2,
    'ended with 4003: two');
is($m->{"signaller_sessions_ended_total{code=1001,$Z}"}, 1,
    'ended with 1001: the silent one');
is($m->{"signaller_handshakes_refused_total{code=404,$Z}"}, 1,
    'refused with 404: one');
is($m->{"signaller_handshakes_refused_total{code=403,$Z}"}, 1, '403: one');
is($m->{"signaller_handshakes_refused_total{code=426,$Z}"}, 1, '426: one');
is($m->{"signaller_handshakes_refused_total{code=4004,$Z}"}, 1,
    '4004: one');
cmp_ok($m->{"signaller_pings_total{$Z}"}, '>=', 1, 'pings sent');
is($m->{"signaller_dropped_peers_total{$Z}"}, 1, 'one peer dropped');
is($m->{"signaller_pipes{$Z}"} + $m->{"signaller_crossing_pipes{$Z}"}, 0,
    'no pipe open');
is($m->{"signaller_waiting_listeners{$Z}"}, 0, 'no listener waiting');

# the same figures in JSON, by query and by Accept
for my $how (['?format=json'], ['', 'Accept: text/html, application/json'])
{
    my ($head, $body) = get(@$how);
    like($head, qr{Content-Type: application/json}, "JSON (@$how)");
    my $j = eval { decode_json($body) };
    ok($j, 'valid JSON') or diag($body);
    my $z = $j->{zones}{signaller} // {};
    is($z->{pairings_total}, $m->{"signaller_pairings_total{$Z}"},
        'JSON pairings as Prometheus');
    is($z->{sessions_ended_total}{1000}, 3, 'JSON ended with 1000');
    is($z->{handshakes_refused_total}{4004}, 1, 'JSON refused with 4004');
}

# the text line, as before
{
    my ($head, $body) = get('');
    like($body, qr/^signaller waiting 0 workers 2 pages \d+ free \d+\n\z/,
        'the text line is unchanged');
}

# a reload that keeps the zone keeps the counters
ok(scalar $t->reload, 'reload');
my $after = scrape();
is($after->{"signaller_pairings_total{$Z}"},
    $m->{"signaller_pairings_total{$Z}"}, 'counters survive a reload');
is($after->{"signaller_workers{$Z}"}, 2, 'the new workers count');

$t->stop;

# signaller_status where no location uses the module: no zone at all, the
# HELP and TYPE lines only, and an empty text and JSON
$t = Signaller::Test->new->require_module;
$t->run(<<'EOF');
server {
    %%LISTEN%%
    location = /status { signaller_status; }
}
EOF
{
    my ($head, $body) = get('?format=prometheus');
    like($head, qr{^HTTP/1\.1 200}, 'no zone: Prometheus answers 200');
    like($body, qr/^# TYPE signaller_handshakes_refused_total counter$/m,
        'no zone: with every HELP and TYPE line');
    unlike($body, qr/^signaller_/m, 'no zone: and no sample');
    my $m = scrape();
    is(scalar(grep { !/^type:/ } keys %$m), 0, 'the parser reads no sample');
    (undef, $body) = get('?format=json');
    is($body, qq({"zones":{}}\n), 'no zone: JSON');
    (undef, $body) = get('');
    is($body, '', 'no zone: an empty text');
}
$t->stop;

done_testing;
