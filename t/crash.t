#!/usr/bin/perl

# kill -9 of a worker (issue 3), 4 workers: the listeners it held are
# purged (on the next lookup, or by the once-a-second sweep); a connector
# for such a handle gets 404 at once, never a hang; the other peer of a
# pipe that crossed into the dead worker gets 4003 "Peer Gone" promptly;
# pipes and listeners in surviving workers are unaffected; signaller_status
# shows no leaked entries or slab pages. Peers are steered onto chosen
# workers with the harness's /_pid probe.

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
# the master's "[alert] worker process N exited on signal 9", nothing else
$t->allow_log(qr/\[alert\] \d+#\d+: worker process \d+ exited on signal 9$/);
$t->run(<<'EOF');
server {
    %%LISTEN%%
    location = /signaller_status { signaller_status; }
    location / {
        signaller on;
        signaller_listen_timeout 20s;
        signaller_pipe_timeout 30s;
    }
}
EOF

my $base = status($t)->{signaller};
ok($base && $base->{waiting} == 0 && $base->{workers} == 4,
    'start: ' . status_line($base));

sub listener_on {
    my ($pid) = @_;
    my $h = $t->handle;
    my $l = $t->ws("/listen/$h", worker => $pid);
    $l->{handle} = $h;
    die "listen on $pid: " . ($l->status // 'none') . "\n"
        unless ($l->status // 0) == 101;
    return $l;
}

sub pair_on {
    my ($lpid, $cpid) = @_;
    my ($l, $c) = $t->pair(listener_opts => { worker => $lpid },
        connector_opts => { worker => $cpid });
    $l->send_text("hello from $lpid");
    msg_is($c, OP_TEXT, "hello from $lpid", "pipe $lpid -> $cpid relays");
    return ($l, $c);
}

# Next frame is close $code/$reason within $by (absolute time); returns
# the time it arrived (or undef).
sub close_by {
    my ($c, $code, $reason, $by, $name) = @_;
    my $m = $c->read_message($by - time > 0 ? $by - time : 0.01);
    my $ok = $m && !$m->{eof} && $m->{opcode} == OP_CLOSE
        && ($m->{code} // 0) == $code && $m->{reason} eq $reason;
    ok($ok, $name);
    diag('got ' . (!$m ? 'nothing' : $m->{eof} ? 'EOF'
        : $m->{opcode} == OP_CLOSE ? 'close ' . ($m->{code} // '(empty)')
            . " \"$m->{reason}\"" : "opcode $m->{opcode}")) unless $ok;
    return unless $ok;
    my $at = time;
    $c->send_close($code);
    ok($c->wait_eof(3), "$name: server closes TCP");
    return $at;
}

sub connect_status {
    my ($h) = @_;
    my $t0 = time;
    my $c = $t->ws("/connect/$h", timeout => 5);
    my $st = $c->status;
    $c->close;
    return ($st, time - $t0);
}

### a worker with waiting listeners and pipes dies ###
{
    my ($v, $x, $y) = $t->worker_pids;
    note("victim $v, survivors $x $y");

    my @lv = map { listener_on($v) } 1 .. 3;     # waiting in the victim
    my $lx = listener_on($x);                     # waiting elsewhere
    my $ly = listener_on($y);
    my ($a_l, $a_c) = pair_on($v, $x);            # listener in the victim
    my ($b_l, $b_c) = pair_on($x, $v);            # connector in the victim
    my ($s_l, $s_c) = pair_on($v, $v);            # both in the victim
    my ($d_l, $d_c) = pair_on($y, $y);            # same worker, survivor
    my ($e_l, $e_c) = pair_on($x, $y);            # crossing, survivors

    my $s = status($t)->{signaller};
    is($s->{waiting}, 5, 'before the kill: 5 waiting (' . status_line($s)
        . ')');

    kill 'KILL', $v;
    my $t0 = time;

    # a connector for a dead listener's handle, right away
    my ($st, $dt) = connect_status($lv[0]{handle});
    is($st, 404, sprintf('connector right after the kill: 404 (%.3f s)',
        $dt));
    cmp_ok($dt, '<', scaled(1), 'no hang');

    # the other peer of each pipe that crossed into the dead worker
    my $at = close_by($a_c, 4003, 'Peer Gone', $t0 + scaled(2),
        "listener's worker killed: connector gets 4003 within 2 s");
    note(sprintf '4003 to the connector after %.3f s', $at - $t0) if $at;
    $at = close_by($b_l, 4003, 'Peer Gone', $t0 + scaled(2),
        "connector's worker killed: listener gets 4003 within 2 s");
    note(sprintf '4003 to the listener after %.3f s', $at - $t0) if $at;

    # everything the dead worker held is gone
    ok($_->wait_eof(2), 'connection in the dead worker closed')
        for @lv, $s_l, $s_c, $a_l, $b_c;

    my ($w, $wt) = wait_status($t, 'signaller',
        sub { $_[0]{waiting} == 2 }, 1.5);
    is($w->{waiting}, 2, sprintf('waiting drops to the 2 live listeners '
        . '(%.2f s)', $wt));

    # and a connector ~1.5 s later
    sleep 0.05 while time < $t0 + 1.5;
    ($st, $dt) = connect_status($lv[1]{handle});
    is($st, 404, 'connector 1.5 s after the kill: 404');
    cmp_ok($dt, '<', scaled(1), 'no hang');

    my $again = $t->ws("/listen/$lv[2]{handle}");
    is($again->status, 101, "dead worker's handle is free for a new "
        . 'listener');
    close_listener($again, 'new listener on a freed handle');

    # survivors: pipes relay both ways, waiting listeners pair
    for ([$d_l, $d_c, 'same-worker pipe'], [$e_l, $e_c, 'crossing pipe']) {
        my ($l, $c, $name) = @$_;
        $l->send_binary("\x00after\xff");
        msg_is($c, OP_BINARY, "\x00after\xff", "$name of survivors: l -> c");
        $c->send_text('back');
        msg_is($l, OP_TEXT, 'back', "$name of survivors: c -> l");
        finish_pipe($l, $c, "$name of survivors");
    }
    for my $l ($lx, $ly) {
        my $c = $t->ws("/connect/$l->{handle}");
        is($c->status, 101, 'listener in a surviving worker pairs');
        $c->send_text('late');
        msg_is($l, OP_TEXT, 'late', 'and relays');
        finish_pipe($l, $c, 'survivor listener');
    }
}

### the sweep: no lookup at all, entries still go within ~1 s ###
{
    ok(scalar $t->wait_workers(4), 'the master replaced the dead worker');
    my ($v, $x) = $t->worker_pids;
    my @lv = map { listener_on($v) } 1 .. 4;
    my $lx = listener_on($x);
    my $s = status($t)->{signaller};
    is($s->{waiting}, 5, 'second victim holds 4 of 5 waiting listeners');

    kill 'KILL', $v;
    my ($w, $wt) = wait_status($t, 'signaller',
        sub { $_[0]{waiting} == 1 }, 3);
    is($w->{waiting}, 1, 'sweep: waiting drops to the 1 live listener '
        . 'without any lookup');
    cmp_ok($wt, '<=', scaled(1.5), sprintf('... within 1.5 s (%.2f s)', $wt));

    my ($st, $dt) = connect_status($lv[0]{handle});
    is($st, 404, 'connector after the sweep: 404');
    cmp_ok($dt, '<', scaled(1), 'no hang');

    my $c = $t->ws("/connect/$lx->{handle}");
    is($c->status, 101, 'the live listener still pairs');
    finish_pipe($lx, $c, 'after the sweep');
}

### a killed worker with a crossing pipe where both directions are busy ###
{
    ok(scalar $t->wait_workers(4), 'the master replaced the dead worker');
    my ($v, $x) = $t->worker_pids;
    my ($l, $c) = pair_on($x, $v);
    # a large message in flight towards the dead worker's connector
    $l->send_binary('z' x 60000);
    kill 'KILL', $v;
    my $t0 = time;
    my $at = close_by($l, 4003, 'Peer Gone', $t0 + scaled(2),
        'busy crossing pipe: listener gets 4003 within 2 s');
}

### no leaks ###
ok(scalar $t->wait_workers(4), 'the master replaced the dead worker');
my ($end, $dt) = wait_status($t, 'signaller', sub {
    $_[0]{waiting} == 0 && $_[0]{workers} == 4
        && $_[0]{free} == $base->{free} }, 3);
is($end->{waiting}, 0, 'end: waiting 0');
is($end->{workers}, 4, 'end: dead workers gone from the zone, 4 live');
is($end->{free}, $base->{free}, "end: free pages back to $base->{free} ("
    . status_line($end) . ')');

$t->stop;
my @alerts = $t->grep_log(qr/\[alert\]/);
is(scalar(@alerts), 3, 'exactly 3 alerts, one per kill -9')
    or diag(join "\n", @alerts);
diag(sprintf 'crash.t: %.1f s', time - $t_start);
done_testing;
