#!/usr/bin/perl

# Pairs that cross workers, handed over (src/ngx_http_signaller_handoff.c):
# a plain TCP connector that sent nothing behind its request, landing in
# worker C for a listener waiting in worker L, gets its 101 from C, and
# then C hands the client's socket to L, where the pair lives. With 2
# workers (or SIGNALLER_WORKERS, if more), peers steered with the /_pid
# probe:
#
#  - a handed-over pair relays both ways and closes normally, whichever
#    peer closes; C writes the connector's access log line, at the end
#    with the session's figures as L saw them, or at once with
#    signaller_log_at handshake;
#  - C holds nothing of the client afterwards (its descriptors counted,
#    once the links both ways are made): with log_at handshake it is back
#    to its baseline at once, with log_at end it holds the client's copy
#    until the pair ends;
#  - C killed (SIGKILL) after the handoff: the pair goes on;
#  - a connector with a frame pipelined behind its request, or over TLS,
#    is spliced as before (C keeps both descriptors) and works;
#  - held messages, then a listener that closes right after pairing: the
#    connector gets them and close 1000 (20 times), also when the
#    listener's close reaches its worker before the connector's socket;
#  - a listener whose timeout fires while its connector's socket is on
#    its way: 4000 to it, and to the connector what it sent, then 4003;
#  - 400 handoffs while the listener's worker is stopped, more than the
#    link's socket takes: the rest wait in the connector's worker, and
#    every pair works once the listener's worker runs; with the connector's
#    worker killed meanwhile, the handoffs that reached the link pair, and
#    the listeners of the others, taken by a dead worker, pair again;
#  - signaller_status counts a handed-over pair as a crossing pipe;
#  - a listener's worker with all its descriptors taken: the socket does
#    not come, the listener gets 4003, and the link stays;
#  - listening deferred, a connector whose handshake is the first request
#    on its connection is handed over before its worker ever watched its
#    socket: such pairs relay, close and log as the others.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use JSON::PP;
use Test::More;
use Time::HiRes qw(time sleep);
use Signaller::Test;
use Signaller::TLS;

my $t_start = time;
my $n = $ENV{SIGNALLER_WORKERS} // 2;
$n = 2 if $n < 2;
my $t = Signaller::Test->new(workers => $n)->require_module;
$t->allow_log(qr/\[alert\] \d+#\d+: worker process \d+ exited on signal 9$/);
Signaller::TLS::certificate($t);
$t->run(<<'EOF');
log_format sig '$pid|$signaller_role|$signaller_handle|$status|'
               '$signaller_close_code|$signaller_messages_in|'
               '$signaller_messages_out|$signaller_bytes_in|'
               '$signaller_bytes_out|$signaller_crossed';
server {
    %%LISTEN%%
    access_log %%PREFIX%%/sig.log sig;
    location = /status { signaller_status; }
    location / { signaller on; }
    location /hs/ { signaller on; signaller_log_at handshake; }
    location /lt/ { signaller on; signaller_listen_timeout 1s; }
}
server {
    listen 127.0.0.1:%%PORT_2%% reuseport deferred;
    access_log %%PREFIX%%/sig.log sig;
    location = /_pid { return 200 "$pid"; }
    location / { signaller on; }
}
server {
    listen 127.0.0.1:%%PORT_1%% ssl reuseport;
    ssl_certificate %%PREFIX%%/cert.pem;
    ssl_certificate_key %%PREFIX%%/key.pem;
    access_log %%PREFIX%%/sig.log sig;
    location = /_pid { return 200 "$pid"; }
    location /hs/ { signaller on; signaller_log_at handshake; }
}
EOF

# sig.log lines of a handle, role => {field => value}, once $want of
# them are there (3 s at most)
sub lines_for {
    my ($h, $want) = @_;
    my @f = qw(pid role handle status code in out bytes_in bytes_out
        crossed);
    my $until = time + scaled(3);
    my @lines;
    while (1) {
        @lines = grep { (split /\|/)[2] eq $h }
            split /\n/, $t->read_file('sig.log');
        last if @lines >= $want || time > $until;
        sleep 0.05;
    }
    my %by;
    for (@lines) {
        my %e;
        @e{@f} = split /\|/;
        $by{$e{role}} = \%e;
    }
    return \%by;
}

# SIGSTOP to worker $pid once it waits in epoll_wait() (2 s at most)
sub stop_waiting {
    my ($pid) = @_;
    my $until = time + scaled(2);
    while (time < $until) {
        open my $fh, '<', "/proc/$pid/wchan" or last;
        last if (<$fh> // '') =~ /epoll/;
        sleep 0.01;
    }
    kill 'STOP', $pid;
}

sub fds {
    my ($pid) = @_;
    opendir my $d, "/proc/$pid/fd" or return -1;
    return scalar grep { /^\d+$/ } readdir $d;
}

# $pid's descriptor count once it is $want (2 s at most), then the same
# 0.2 s later
sub fds_settle {
    my ($pid, $want) = @_;
    my $until = time + scaled(2);
    sleep 0.02 while fds($pid) != $want && time < $until;
    sleep 0.2;
    return fds($pid);
}

# every worker's descriptor count, once it holds still for 0.1 s
sub baseline {
    my ($now, $then) = ('', '-');
    my $until = time + scaled(2);
    while ($now ne $then && time < $until) {
        $then = $now;
        sleep 0.1;
        $now = join ' ', map { "$_=" . fds($_) } sort $t->worker_pids;
    }
    return { map { split /=/ } split / /, $now };
}

# the zone's figures in signaller_status's JSON
sub zone_status {
    my $c = $t->client;
    $c->send_raw("GET /status?format=json HTTP/1.1\r\nHost: x\r\n"
        . "Connection: close\r\n\r\n");
    my $until = time + scaled(3);
    1 while $c->_fill($until);
    my (undef, $body) = split /\r\n\r\n/, $c->{buf}, 2;
    my $z = eval { decode_json($body // '') } // {};
    return $z->{zones}{signaller} // {};
}

sub exercise {
    my ($l, $c, $tag) = @_;
    # the frames' sizes as the server reads them (masked)
    $l->send_text('hello');                  # 11 bytes
    msg_is($c, OP_TEXT, 'hello', "$tag: listener -> connector");
    $c->send_binary("\x00" . 'x' x 199);     # 208 bytes
    msg_is($l, OP_BINARY, "\x00" . 'x' x 199, "$tag: connector -> listener");
    $c->send_text('y');                      # 7 bytes
    msg_is($l, OP_TEXT, 'y', "$tag: and again");
}

### relays, closes normally, C logs the connector's line ###
for my $closer ('listener', 'connector') {
    my $tag = "handed over, $closer closes";
    my ($l, $c) = $t->pair(layout => 'cross');
    my $h = $l->{handle};
    isnt($l->pid, $c->pid, "$tag: crossing ($l->{pid} -> $c->{pid})");
    exercise($l, $c, $tag);
    ok(!lines_for($h, 0)->{connect}, "$tag: no line for the connector yet");
    if ($closer eq 'listener') {
        finish_pipe($l, $c, $tag);
    } else {
        $c->send_close(1000);
        close_is($c, 1000, 'Normal Closure', "$tag: connector's 1000 echoed",
            reply => 0);
        close_is($l, 1000, 'Normal Closure', "$tag: listener gets 1000");
    }
    my $by = lines_for($h, 2);
    my ($le, $ce) = @$by{qw(listen connect)};
    ok($le && $ce, "$tag: a line for each peer") or next;
    is($ce->{pid}, $c->pid, "$tag: the connector's line by its own worker");
    is($le->{pid}, $l->pid, "$tag: the listener's by the listener's");
    is(join(' ', @$ce{qw(status code in out bytes_in bytes_out crossed)}),
        join(' ', 101, 1000, 2, 1, 208 + 7 + 8, 7 + 18, 1),
        "$tag: connector's status, code, messages, bytes, crossed");
    is(join(' ', @$le{qw(status code in out bytes_in bytes_out crossed)}),
        join(' ', 101, 1000, 1, 2, 11 + 8, 204 + 3 + 18, 1),
        "$tag: listener's");
}

### C's descriptors: nothing of the client is left there ###
# the links between workers are made at the first handoff each way, and
# kept: both are there before the baseline
{
    my %way;
    for (1 .. 100 * $n) {
        my ($l, $c) = $t->pair(layout => 'cross');
        $way{$l->pid . ' ' . $c->pid} = 1;
        $_->close for $l, $c;
        last if keys %way == $n * ($n - 1);
    }
    is(scalar keys %way, $n * ($n - 1),
        'links: handoffs made every way between the workers');
}
for my $at ('handshake', 'end') {
    my $base = $at eq 'handshake' ? '/hs' : '';
    my $tag = "log_at $at";
    my $before = baseline();
    my ($l, $c) = $t->pair(layout => 'cross', base => $base);
    my ($lp, $cp) = ($l->pid, $c->pid);
    # log_at end: the client's copy, closed once L reports the end
    my $held = $at eq 'handshake' ? 0 : 1;
    is(fds_settle($cp, $before->{$cp} + $held), $before->{$cp} + $held,
        "$tag: C holds $held more descriptors after pairing");
    is(fds_settle($lp, $before->{$lp} + 2), $before->{$lp} + 2,
        "$tag: L holds both peers' sockets, and nothing else");
    if ($at eq 'handshake') {
        my $ce = lines_for($l->{handle}, 1)->{connect};
        is($ce && "$ce->{pid} $ce->{status} $ce->{code}", "$cp 101 -",
            "$tag: C logged the connector at once, 101");
    }
    exercise($l, $c, $tag);
    finish_pipe($l, $c, $tag);
    is(fds_settle($cp, $before->{$cp}), $before->{$cp},
        "$tag: C back to its baseline after the end");
}

### C killed after the handoff: the pair goes on ###
{
    my ($l, $c) = $t->pair(layout => 'cross');
    my $cp = $c->pid;
    $l->send_text('before');
    msg_is($c, OP_TEXT, 'before', 'kill C: relays before');
    kill 'KILL', $cp;
    my $until = time + scaled(2);
    sleep 0.02 while grep({ $_ == $cp } $t->all_worker_pids) && time < $until;
    ok(!grep({ $_ == $cp } $t->all_worker_pids), "kill C: $cp is gone");
    $l->send_binary("\xffafter\x00");
    msg_is($c, OP_BINARY, "\xffafter\x00", 'kill C: listener -> connector');
    $c->send_text('still here');
    msg_is($l, OP_TEXT, 'still here', 'kill C: connector -> listener');
    finish_pipe($l, $c, 'kill C');
    ok(scalar $t->wait_workers($n), 'kill C: the master replaced it');
}

### spliced: a frame behind the request, or TLS ###
for my $how ('pipelined', 'TLS', 'TLS pipelined') {
    my $tag = "spliced, $how";
    my $early = Signaller::Test::Client::frame(opcode => OP_BINARY,
        payload => "early\x00bird");
    my %pipe = $how =~ /pipelined/ ? (pipeline => $early) : ();
    my $before = baseline();
    my $h = $t->handle;
    my $l = $t->ws("/hs/listen/$h", probe => 1);
    is($l->status, 101, "$tag: listener");
    my $c = $how =~ /TLS/
        ? Signaller::TLS::ws($t, "/hs/connect/$h", not_worker => $l->pid,
            %pipe)
        : $t->ws("/hs/connect/$h", not_worker => $l->pid, %pipe);
    is($c->status, 101, "$tag: connector");
    my $cp = $c->pid;
    msg_is($l, OP_BINARY, "early\x00bird", "$tag: the pipelined frame first")
        if %pipe;
    exercise($l, $c, $tag);
    # log_at handshake: a handed-over connector would hold nothing here
    is(fds($cp), $before->{$cp} + 2,
        "$tag: C holds the client's socket and the Unix stream");
    finish_pipe($l, $c, $tag);
    is(fds_settle($cp, $before->{$cp}), $before->{$cp},
        "$tag: C back to its baseline after the end");
}

### held messages, and the listener closes right after pairing ###
{
    my @bad;
    for my $i (1 .. 20) {
        my $base = $i % 2 ? '' : '/hs';
        my ($l, $c) = $t->pair(layout => 'cross', base => $base,
            before => sub {
                $_[0]->send_text("held $i");
                $_[0]->send_binary("\x00" x $i);
            });
        $l->send_close(1000);
        my @got = map { $c->read_message(2) } 1 .. 3;
        my $got = join ', ', map { !$_ ? 'nothing' : $_->{eof} ? 'EOF'
            : $_->{opcode} == OP_CLOSE ? "close $_->{code} $_->{reason}"
            : "$_->{opcode} " . unpack('H*', $_->{payload}) } @got;
        my $want = "1 " . unpack('H*', "held $i") . ", 2 " . ('00' x $i)
            . ', close 1000 Normal Closure';
        push @bad, "$i ($base): $got" unless $got eq $want;
        $c->send_close(1000);
        my ($code) = $l->read_close(2);
        push @bad, "$i ($base): listener's echo " . ($code // 'none')
            unless ($code // 0) == 1000;
        push @bad, "$i ($base): connector not closed"
            unless $c->wait_eof(2);
        $l->close;
        $c->close;
    }
    ok(!@bad, 'held messages then close 1000, 20 times') or diag(join "\n",
        @bad);
}

### the listener closes while the connector's socket is on its way ###
# L is stopped while the connector gets its 101 and the listener sends its
# close: once L runs, the socket and the close are both waiting there, in
# either order, and the connector must get the same as after a pairing.
{
    my @bad;
    for my $i (1 .. 10) {
        my $base = $i % 2 ? '' : '/hs';
        my $h = $t->handle;
        my $l = $t->ws("$base/listen/$h", probe => 1);
        $l->send_text("held $i");
        # the connector's connection is on the other worker before L stops
        my $c = $t->client_on(not_worker => $l->pid);
        kill 'STOP', $l->pid;
        $c->handshake("$base/connect/$h");
        push @bad, "$i: connector " . ($c->status // 'none')
            unless ($c->status // 0) == 101;
        $l->send_close(1000);
        kill 'CONT', $l->pid;
        my @got = map { $c->read_message(2) } 1 .. 2;
        my $got = join ', ', map { !$_ ? 'nothing' : $_->{eof} ? 'EOF'
            : $_->{opcode} == OP_CLOSE ? "close $_->{code} $_->{reason}"
            : "$_->{opcode} $_->{payload}" } @got;
        push @bad, "$i ($base): $got"
            unless $got eq "1 held $i, close 1000 Normal Closure";
        $c->send_close(1000);
        push @bad, "$i ($base): connector not closed"
            unless $c->wait_eof(2);
        my ($code) = $l->read_close(2);
        push @bad, "$i ($base): listener's echo " . ($code // 'none')
            unless ($code // 0) == 1000;
        $l->close;
        $c->close;
    }
    ok(!@bad, "the listener's worker stopped meanwhile: held message "
        . 'then close 1000, 10 times') or diag(join "\n", @bad);
}

### the listener's timeout fires while the connector's socket is on its way ###
# L is stopped for longer than the listener's timeout, while a connector
# gets its 101 from C.  Stopped in epoll_wait(), L runs its timers first
# when it runs again (the call fails with EINTR): the listener gets 4000,
# and the connector what the listener sent, then 4003 as for any peer that
# left, never a close without a code.  Stopped anywhere else, L may read
# the socket first and pair: then it is tried again.
{
    my ($h, $l, $c, $m);
    for my $try (1 .. 3) {
        $h = $t->handle;
        $l = $t->ws("/lt/listen/$h", probe => 1);
        $l->send_text('held');
        $c = $t->client_on(not_worker => $l->pid);
        stop_waiting($l->pid);
        $c->handshake("/lt/connect/$h");
        sleep 1.5;
        kill 'CONT', $l->pid;
        $m = $l->read_message(3);
        last if $m && !$m->{eof} && $m->{opcode} == OP_CLOSE;
        note("try $try: the listener paired first");
        $_->close for $l, $c;
    }
    is($c->status, 101, 'listener\'s worker stopped: the connector gets '
        . '101');
    ok($m && !$m->{eof} && $m->{opcode} == OP_CLOSE
        && ($m->{code} // 0) == 4000 && $m->{reason} eq 'Listen Timeout',
        'its worker runs again after the listener\'s timeout: 4000');
    $l->send_close(4000);
    msg_is($c, OP_TEXT, 'held', 'the connector gets what the listener sent');
    close_is($c, 4003, 'Peer Gone', 'then 4003');
    my $f = lines_for($h, 2);
    is($f->{connect}{code} // '', 4003, 'its log line says 4003');
    is($f->{listen}{code} // '', 4000, 'the listener\'s says 4000');
}

### more handoffs than the link takes: they wait, in order ###
# L is stopped while 400 connectors get their 101 from C: the kernel takes
# only so many messages on the link (its send buffer), the rest wait in C
# until L reads again.

# $n listeners in one worker, L, and a connector for each in another, C,
# each with its 101 while L is stopped; L is left stopped
sub stopped_handoffs {
    my ($n) = @_;
    my @h = map { $t->handle } 1 .. $n;
    my $first = $t->ws("/listen/$h[0]", probe => 1);
    my $lp = $first->pid;
    my @l = ($first,
        map { $t->ws("/listen/$h[$_]", worker => $lp) } 1 .. $n - 1);
    my ($cp, @c, @bad);
    for my $i (0 .. $n - 1) {
        my $c = $t->client;
        for (1 .. 400) {
            my $pid = $c->probe_pid;
            $cp //= $pid if defined $pid && $pid != $lp;
            last if defined $pid && defined $cp && $pid == $cp;
            $c->close;
            $c = $t->client;
        }
        push @c, $c;
    }
    kill 'STOP', $lp;
    for my $i (0 .. $n - 1) {
        $c[$i]->handshake("/connect/$h[$i]");
        push @bad, "$i: connector " . ($c[$i]->status // 'none')
            unless ($c[$i]->status // 0) == 101;
    }
    return ($lp, \@h, \@l, \@c, \@bad);
}

# whether the listener's message "to $i" reaches the connector
sub relays {
    my ($l, $c, $i) = @_;
    $l->send_text("to $i");
    my $m = $c->read_message(5);
    return $m && !$m->{eof} && ($m->{payload} // '') eq "to $i";
}

{
    my ($lp, $h, $l, $c, $bad) = stopped_handoffs(400);
    kill 'CONT', $lp;
    for my $i (0 .. $#$l) {
        push @$bad, "$i: not relayed" unless relays($l->[$i], $c->[$i], $i);
    }
    ok(!@$bad, scalar(@$l) . ' handoffs while L is stopped: all paired')
        or diag(join "\n", @$bad[0 .. ($#$bad < 9 ? $#$bad : 9)]);
    $_->send_close(1000) for @$c;
    # L reports the ends in batches; C writes each connector's line from
    # its report: the code and the message the connector got
    my %want = map { $_ => 1 } @$h;
    my $until = time + scaled(3);
    my %got;
    while (1) {
        %got = map { my @e = split /\|/; $e[1] eq 'connect'
                         && $want{$e[2]} ? ($e[2] => "$e[4] $e[6]") : () }
            split /\n/, $t->read_file('sig.log');
        last if keys %got == @$h || time > $until;
        sleep 0.05;
    }
    my @off = grep { ($got{$_} // 'none') ne '1000 1' } @$h;
    ok(!@off, scalar(keys %got) . ' connectors logged from their reports, '
        . 'each with 1000 and one message out') or diag(join "\n",
        map { "$_: " . ($got{$_} // 'no line') } @off[0 .. ($#off < 9
        ? $#off : 9)]);
    $_->close for @$l, @$c;
}

# ... and C killed meanwhile: the handoffs L had are paired, the others
# are lost with C, and their listeners, taken by a dead worker, pair with
# the next connectors once the sweep has found it dead
{
    my ($lp, $h, $l, $c, $bad) = stopped_handoffs(400);
    my $cp = $c->[0]->pid;
    kill 'KILL', $cp;
    my $until = time + scaled(3);
    sleep 0.01 while -e "/proc/$cp" && time < $until;
    kill 'CONT', $lp;
    my (@paired, @lost);
    for my $i (0 .. $#$l) {
        if (relays($l->[$i], $c->[$i], $i)) {
            push @paired, $i;
        } else {
            push @lost, $i;
        }
    }
    ok(@paired && @lost, 'C killed with handoffs waiting: ' . @paired
        . ' paired, ' . @lost . ' lost with it') or diag(@$bad);
    ok(scalar $t->wait_workers($n), 'C replaced');
    my @again;
    for my $i (@lost[0 .. ($#lost < 19 ? $#lost : 19)]) {
        my $cc;
        my $until = time + scaled(3);
        while (time < $until) {
            $cc = $t->ws("/connect/$h->[$i]", not_worker => $lp);
            last if ($cc->status // 0) == 101;
            $cc->close;
            sleep 0.1;
        }
        push @again, "$i: " . ($cc->status // 'none')
            unless ($cc->status // 0) == 101 && relays($l->[$i], $cc, $i);
        $cc->close;
    }
    ok(@lost && !@again, 'their listeners pair again, with new connectors')
        or diag(join "\n", @again);
    $_->close for @$l, @$c;
}

### status: a handed-over pair is a crossing pipe ###
{
    my ($l, $c) = $t->pair(layout => 'cross');
    # the connector has its 101 before its socket reaches the listener's
    # worker, which counts the pipe
    my $until = time + scaled(2);
    my $s;
    sleep 0.05 while !($s = zone_status())->{crossing_pipes} && time < $until;
    is(($s->{crossing_pipes} // 'none') . ' ' . ($s->{pipes} // 'none'),
        '1 0', 'status: one crossing pipe while open, no same-worker pipe');
    finish_pipe($l, $c, 'status');
    $until = time + scaled(2);
    sleep 0.05 while ($s = zone_status())->{crossing_pipes} && time < $until;
    is(($s->{crossing_pipes} // 'none') . ' ' . ($s->{pipes} // 'none'),
        '0 0', 'status: none after the end');
}

### listening deferred: a socket that was never in C's epoll ###
# no probe: the kernel picks each connector's worker, so that its
# handshake is the first request on its connection; 16 tries cross at
# least once but for a chance of 2^-16
{
    my ($crossed, @bad);
    for my $i (1 .. 16) {
        my $h = $t->handle;
        my $l = $t->ws("/listen/$h", port_n => 2, probe => 1);
        my $c = $t->ws("/connect/$h", port_n => 2);
        if (($l->status // 0) != 101 || ($c->status // 0) != 101) {
            push @bad, "$i: statuses " . ($l->status // 'none') . ' '
                . ($c->status // 'none');
            next;
        }
        $c->send_text("ping $i");
        my $m = $l->read_message;
        $l->send_close(1000);
        my $cl = $c->read_message;
        $c->send_close(1000) if $cl && $cl->{opcode} == OP_CLOSE;
        my $by = lines_for($h, 2);
        my ($le, $ce) = @$by{qw(listen connect)};
        my $got = join '|', ($m ? $m->{payload} : 'none'),
            ($cl && $cl->{opcode} == OP_CLOSE
                ? "$cl->{code} $cl->{reason}" : 'no close'),
            ($ce ? "$ce->{status} $ce->{code} $ce->{in} $ce->{bytes_in}"
                : 'no line'),
            ($le ? "$le->{status} $le->{code} $le->{out}" : 'no line');
        # the connector's bytes as the server reads them: "ping N" framed
        # and masked (6 + 6 or 7), then its close 1000 (6 + 2)
        my $bytes = 6 + length("ping $i") + 8;
        push @bad, "$i: $got"
            if $got ne "ping $i|1000 Normal Closure|101 1000 1 $bytes"
                . "|101 1000 1";
        $crossed++ if $le && $ce && $le->{pid} != $ce->{pid};
        $_->close for $l, $c;
    }
    ok(!@bad, 'deferred: every pair relays, closes and logs')
        or diag(join "\n", @bad);
    ok($crossed, "deferred: pairs crossed workers (${\ ($crossed // 0)} of 16)");
}

$t->stop;

### the listener's worker has no descriptor free for the socket ###
# A client can use up a worker's open files.  A socket handed to it then
# does not come (the kernel closes it): the listener gets 4003, as when a
# connector drops, the connector's worker hears it, and the link stays.
SKIP: {
    my $max = 64;
    my $t = Signaller::Test->new(workers => 2)->require_module;
    $t->allow_log(qr/\[crit\] .*accept4\(\) failed \(24: Too many open /);
    # valgrind keeps descriptors of its own up there, and refuses the limit
    $t->allow_log(qr/\[alert\] .*setrlimit\(RLIMIT_NOFILE, $max\) failed/);
    $t->run(<<'EOF', main => "worker_rlimit_nofile $max;");
server {
    %%LISTEN%%
    location / { signaller on; }
}
EOF
    my ($p, $q) = $t->worker_pids;
    my $limit = do {
        open my $fh, '<', "/proc/$p/limits" or die "limits: $!";
        my ($n) = join('', <$fh>) =~ /^Max open files\s+(\d+)/m;
        $n // 0;
    };
    if ($limit != $max) {
        $t->stop;
        skip "the workers' limit of open files is $limit, not $max", 15;
    }
    my ($l, $c) = $t->pair(listener_opts => { worker => $p },
        connector_opts => { worker => $q });
    finish_pipe($l, $c, "a pair from $q to $p, which links them");

    my $h = $t->handle;
    $l = $t->ws("/listen/$h", worker => $p);
    $c = $t->client_on(worker => $q);
    # idle connections until every descriptor number below the limit is
    # taken (the worker may hold one above it, inherited from the test)
    my $below = sub {
        opendir my $d, "/proc/$p/fd" or return -1;
        return scalar grep { /^\d+$/ && $_ < $max } readdir $d;
    };
    my @fill;
    push @fill, $t->client_on(worker => $p) while $below->() < $max;
    is($below->(), $max, "worker $p has all its $max descriptors open");
    $c->handshake("/connect/$h");
    is($c->status, 101, 'a connector for a listener there: 101');
    close_is($l, 4003, 'Peer Gone', 'its socket did not come: the listener '
        . 'gets 4003');
    my $m = $c->read_message(3);
    ok($m && $m->{eof}, 'the connector\'s connection is closed, nothing '
        . 'before') or diag('got ' . ($m ? "opcode $m->{opcode}" : 'nothing'));
    ok(scalar($t->grep_log(qr/\[error\] .*no descriptor free for a socket /
        . "from worker $q")), 'the listener\'s worker says why');

    $_->close for @fill;
    fds_settle($p, $max - @fill);
    ($l, $c) = $t->pair(listener_opts => { worker => $p },
        connector_opts => { worker => $q });
    ok(relays($l, $c, 'again'), 'descriptors free again: a pair crosses '
        . 'and relays');
    finish_pipe($l, $c, 'descriptors free again');
    $t->stop;
}

diag(sprintf 'handoff.t: %.1f s', time - $t_start);
done_testing;
