#!/usr/bin/perl

# kill -9 of a worker (issue 3), 4 workers: the listeners it held are
# purged (on the next lookup, or by the once-a-second sweep); a connector
# for such a handle gets 404 at once, never a hang; pipes and listeners in
# surviving workers are unaffected; signaller_status shows no leaked
# entries or slab pages. Peers are steered onto chosen workers with the
# harness's /_pid probe.
#
# A pipe that crossed workers goes one of two ways (handoff.c): a plain
# TCP connector that sent nothing behind its request is "handed over" (its
# socket moves into the listener's worker, where the pair then lives); a
# connector that sent a frame in the same write as its request, or one
# over TLS, is "spliced" by its own worker to the listener's. Killing the
# connector's original worker leaves a handed-over pair relaying; killing
# the listener's worker drops both its peers, as for a pair in one worker.
# A spliced pair loses the peer in the dead worker, and the other one gets
# 4003 "Peer Gone" promptly.
#
# The worker the master starts in a dead one's place may get its pid (as
# root, the test makes it so) while the dead one's record is still in the
# zone: it sweeps that record itself, pairs on the dead listeners'
# handles, and the others link with it, not with the dead one.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time sleep);
use Signaller::Test;
use Signaller::TLS;
use Signaller::Workers qw(status status_line wait_status);

my $t_start = time;
my $t = Signaller::Test->new(workers => 4)->require_module;
# the master's "[alert] worker process N exited on signal 9", nothing else
$t->allow_log(qr/\[alert\] \d+#\d+: worker process \d+ exited on signal 9$/);
Signaller::TLS::certificate($t);
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
server {
    listen 127.0.0.1:%%PORT_1%% ssl reuseport;
    ssl_certificate %%PREFIX%%/cert.pem;
    ssl_certificate_key %%PREFIX%%/key.pem;
    location = /_pid { return 200 "$pid"; }
    location / {
        signaller on;
        signaller_pipe_timeout 30s;
    }
}
EOF

my $base = status($t)->{signaller};
ok($base && $base->{waiting} == 0 && $base->{workers} == 4,
    'start: ' . status_line($base));

sub listener_on {
    my ($pid, $tt) = @_;
    $tt //= $t;
    my $h = $tt->handle;
    my $l = $tt->ws("/listen/$h", worker => $pid);
    $l->{handle} = $h;
    die "listen on $pid: " . ($l->status // 'none') . "\n"
        unless ($l->status // 0) == 101;
    return $l;
}

# The ways a crossing pipe goes: 'handed over' (plain TCP, nothing behind
# the request), 'spliced' (a frame pipelined behind the request), 'spliced
# (TLS)' (both peers over TLS). pair_on() makes a pipe either way (in one
# worker the way makes no difference).
my @paths = ('handed over', 'spliced', 'spliced (TLS)');

sub pair_on {
    my ($lpid, $cpid, $path) = @_;
    $path //= 'handed over';
    my ($l, $c);
    if ($path eq 'spliced (TLS)') {
        my $h = $t->handle;
        $l = Signaller::TLS::ws($t, "/listen/$h", worker => $lpid);
        $c = Signaller::TLS::ws($t, "/connect/$h", worker => $cpid)
            if ($l->status // 0) == 101;
        die "TLS pair $lpid -> $cpid: "
            . join(' ', map { $_ ? $_->status // 'none' : '-' } $l, $c)
            . "\n" unless $c && ($c->status // 0) == 101;
    } else {
        my %pipe = $path eq 'spliced' ? (pipeline =>
            Signaller::Test::Client::frame(payload => "behind $cpid")) : ();
        ($l, $c) = $t->pair(listener_opts => { worker => $lpid },
            connector_opts => { worker => $cpid, %pipe });
        msg_is($l, OP_TEXT, "behind $cpid", "[$path] pipe $lpid -> $cpid: "
            . 'the frame behind the request first') if %pipe;
    }
    $l->send_text("hello from $lpid");
    msg_is($c, OP_TEXT, "hello from $lpid", ($lpid == $cpid
        ? '[same worker]' : "[$path]") . " pipe $lpid -> $cpid relays");
    return ($l, $c);
}

sub describe {
    my ($m) = @_;
    return !$m ? 'nothing' : $m->{eof} ? 'EOF'
        : $m->{opcode} == OP_CLOSE ? 'close ' . ($m->{code} // '(empty)')
            . " \"$m->{reason}\"" : "opcode $m->{opcode}";
}

# Next frame is close $code/$reason within $by (absolute time); returns
# the time it arrived (or undef).
sub close_by {
    my ($c, $code, $reason, $by, $name) = @_;
    my $m = $c->read_message($by - time > 0 ? $by - time : 0.01);
    my $ok = $m && !$m->{eof} && $m->{opcode} == OP_CLOSE
        && ($m->{code} // 0) == $code && $m->{reason} eq $reason;
    ok($ok, $name) or diag('got ' . describe($m));
    return unless $ok;
    my $at = time;
    $c->send_close($code);
    ok($c->wait_eof(3), "$name: server closes TCP");
    return $at;
}

# The connection is dropped by $by (absolute time): EOF or RST, with no
# close frame before it.
sub dropped_by {
    my ($c, $by, $name) = @_;
    my $m = $c->read_message($by - time > 0 ? $by - time : 0.01);
    ok($m && $m->{eof}, $name) or diag('got ' . describe($m));
}

# A message each way, exact bytes.
sub relays {
    my ($l, $c, $name) = @_;
    $l->send_binary("\x00after\xff");
    msg_is($c, OP_BINARY, "\x00after\xff", "$name: l -> c");
    $c->send_text('back');
    msg_is($l, OP_TEXT, 'back', "$name: c -> l");
}

sub connect_status {
    my ($h, $tt) = @_;
    my $t0 = time;
    my $c = ($tt // $t)->ws("/connect/$h", timeout => 5);
    my $st = $c->status;
    $c->close;
    return ($st, time - $t0);
}

# $pid has exited: gone, or a zombie whose descriptors are closed
sub dead {
    my ($pid) = @_;
    open my $fh, '<', "/proc/$pid/stat" or return 1;
    my $stat = <$fh> // '';
    return $stat =~ /\) [ZX] /;
}

# Kills worker $v while the master is stopped, so that it stays a zombie
# until the master runs again, and makes $v the next pid the kernel gives:
# the master's next fork, $v's successor, gets it unless another process
# forks first; then the successor is killed in its turn, five times at
# most.  $n: the workers; $keep: one that is not to be killed.  The tries
# it took, or undef.
sub successor_of {
    my ($tt, $v, $n, $keep) = @_;
    my $master = $tt->master_pid;
    for my $try (1 .. 5) {
        kill 'STOP', $master;
        kill 'KILL', $v;
        my $until = time + scaled(2);
        sleep 0.001 while !dead($v) && time < $until;
        open my $fh, '>', '/proc/sys/kernel/ns_last_pid'
            or die "ns_last_pid: $!";
        print $fh $v - 1;
        close $fh or die "ns_last_pid: $!";
        kill 'CONT', $master;
        # nothing here forks (ps) before the master has
        sleep 0.3;
        my @w = $tt->wait_workers($n);
        return $try if grep { $_ == $v } @w;
        ($v) = grep { $_ != ($keep // 0) } @w;
    }
    return undef;
}

### a worker with waiting listeners and pipes dies ###
{
    my ($v, $x, $y) = $t->worker_pids;
    note("victim $v, survivors $x $y");

    my @lv = map { listener_on($v) } 1 .. 3;     # waiting in the victim
    my $lx = listener_on($x);                     # waiting elsewhere
    my $ly = listener_on($y);
    my (%a, %b, %e);    # path => [listener, connector]
    for my $path (@paths) {
        $a{$path} = [pair_on($v, $x, $path)];     # listener in the victim
        $b{$path} = [pair_on($x, $v, $path)];     # connector in the victim
        $e{$path} = [pair_on($x, $y, $path)];     # crossing, survivors
    }
    my ($s_l, $s_c) = pair_on($v, $v);            # both in the victim
    my ($d_l, $d_c) = pair_on($y, $y);            # same worker, survivor

    my $s = status($t)->{signaller};
    is($s->{waiting}, 5, 'before the kill: 5 waiting (' . status_line($s)
        . ')');

    kill 'KILL', $v;
    my $t0 = time;

    # a connector for a dead listener's handle, right away once the kernel
    # has closed the victim's sockets (a connector that comes while it
    # still dies may be handed over to it, and dropped with it)
    my $until = $t0 + scaled(2);
    sleep 0.001 while !dead($v) && time < $until;
    my ($st, $dt) = connect_status($lv[0]{handle});
    is($st, 404, sprintf('connector right after the kill: 404 (%.3f s)',
        $dt));
    cmp_ok($dt, '<', scaled(1), 'no hang');

    # a handed-over pipe lived in its listener's worker: both peers dropped
    dropped_by($_, $t0 + scaled(2), "[handed over] listener's worker "
        . 'killed: its ' . ($_ == $a{'handed over'}[0] ? 'listener'
        : 'connector, handed to it,') . ' dropped within 2 s, no close frame')
        for @{$a{'handed over'}};

    # the other peer of each spliced pipe that crossed into the dead worker
    for my $path (grep { /spliced/ } @paths) {
        my $at = close_by($a{$path}[1], 4003, 'Peer Gone', $t0 + scaled(2),
            "[$path] listener's worker killed: connector gets 4003 "
            . 'within 2 s');
        note(sprintf "[$path] 4003 to the connector after %.3f s",
            $at - $t0) if $at;
        $at = close_by($b{$path}[0], 4003, 'Peer Gone', $t0 + scaled(2),
            "[$path] connector's worker killed: listener gets 4003 "
            . 'within 2 s');
        note(sprintf "[$path] 4003 to the listener after %.3f s",
            $at - $t0) if $at;
    }

    # a pipe handed over from the dead worker is not its own any more
    relays(@{$b{'handed over'}}, "[handed over] connector's worker killed: "
        . 'the pipe still relays');

    # everything the dead worker held is gone
    ok($_->wait_eof(2), 'connection in the dead worker closed')
        for @lv, $s_l, $s_c, map { $a{$_}[0], $b{$_}[1] }
            grep { /spliced/ } @paths;

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
    for ([$d_l, $d_c, 'same-worker pipe'],
        map { [@{$e{$_}}, "[$_] crossing pipe"] } @paths)
    {
        my ($l, $c, $name) = @$_;
        relays($l, $c, "$name of survivors");
        finish_pipe($l, $c, "$name of survivors");
    }
    finish_pipe(@{$b{'handed over'}}, "[handed over] pipe whose connector "
        . 'came through the dead worker: ends normally');
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
    my %p = map { ($_ => [pair_on($x, $v, $_)]) } @paths;
    # a large message in flight towards the connector in (or handed over
    # by) the dead worker
    $_->[0]->send_binary('z' x 60000) for values %p;
    kill 'KILL', $v;
    my $t0 = time;
    for my $path (grep { /spliced/ } @paths) {
        close_by($p{$path}[0], 4003, 'Peer Gone', $t0 + scaled(2),
            "[$path] busy crossing pipe: listener gets 4003 within 2 s");
    }
    my ($l, $c) = @{$p{'handed over'}};
    msg_is($c, OP_BINARY, 'z' x 60000, '[handed over] busy crossing pipe: '
        . 'the large message arrives whole');
    relays($l, $c, '[handed over] busy crossing pipe: still relays');
    finish_pipe($l, $c, '[handed over] busy crossing pipe');
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

### a successor under the dead worker's pid ###
# A worker that died keeps its record in the zone until a sweep, and the
# worker the master starts in its place may get its pid before that: the
# successor, and the workers it links to, must still tell it from the dead
# one.
SKIP: {
    skip 'not root: the next pid cannot be chosen', 24
        unless $> == 0 && -w '/proc/sys/kernel/ns_last_pid';

    my $conf = <<'EOF';
server {
    %%LISTEN%%
    location = /signaller_status { signaller_status; }
    location / {
        signaller on;
        signaller_listen_timeout 20s;
    }
}
EOF

    # one worker: only the successor can sweep its predecessor's entries
    my $t = Signaller::Test->new(workers => 1)->require_module;
    $t->allow_log(
        qr/\[alert\] \d+#\d+: worker process \d+ exited on signal 9$/);
    $t->run($conf);
    my ($v) = $t->worker_pids;
    my $l = listener_on($v, $t);
    my $tries = successor_of($t, $v, 1);
    ok($tries, "worker $v died, and its successor has its pid (tries: "
        . ($tries // 'too many') . ')');
    ok($l->wait_eof(2), 'its listener is dropped');
    my ($s, $secs) = wait_status($t, 'signaller',
        sub { $_[0]{waiting} == 0 }, 3);
    is($s->{waiting}, 0, sprintf('the successor\'s sweep purges its '
        . 'predecessor\'s entries (%.2f s)', $secs));
    is((connect_status($l->{handle}, $t))[0], 404,
        'a connector for the dead listener\'s handle: 404');
    my ($l2, $c2) = $t->pair(handle => $l->{handle});
    relays($l2, $c2, 'a new pair on the dead listener\'s handle');
    finish_pipe($l2, $c2, 'a new pair on the dead listener\'s handle');
    $t->stop;

    # two: a worker that links to the successor must not take it for the
    # dead one.  The other one is stopped meanwhile, so that no sweep runs;
    # when it runs again, a sweep may come first: three times.
    $t = Signaller::Test->new(workers => 2)->require_module;
    $t->allow_log(
        qr/\[alert\] \d+#\d+: worker process \d+ exited on signal 9$/);
    $t->run($conf);
    my $x;
    ($x, $v) = $t->worker_pids;
    my $relayed = 0;
    for my $round (1 .. 3) {
        my $lx = listener_on($x, $t);
        kill 'STOP', $x;
        $tries = successor_of($t, $v, 2, $x) or last;
        ($v) = grep { $_ != $x } $t->worker_pids;
        # a probe that lands on the stopped worker waits: short ones
        my $cv = $t->ws("/connect/$lx->{handle}", worker => $v,
            timeout => 0.5);
        $cv->{timeout} = 3;
        $cv->send_text("round $round") if ($cv->status // 0) == 101;
        kill 'CONT', $x;
        $relayed++ if ($cv->status // 0) == 101
            && msg_is($lx, OP_TEXT, "round $round", "round $round: a "
                . 'connector in the successor pairs with a listener of the '
                . "stopped worker (tries: $tries)");
        $_->close for $lx, $cv;
    }
    is($relayed, 3, 'a worker linked with the successor in all three '
        . 'rounds');
    my $lv = listener_on($v, $t);
    my $cx = $t->ws("/connect/$lv->{handle}", worker => $x);
    is($cx->status, 101, 'a connector for a listener in the successor: 101');
    relays($lv, $cx, 'the other way');
    finish_pipe($lv, $cx, 'the other way');
    $t->stop;
    is(scalar($t->grep_log(qr/refused a relay connection/)), 0,
        'no worker was refused');
}

diag(sprintf 'crash.t: %.1f s', time - $t_start);
done_testing;
