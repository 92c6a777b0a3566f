#!/usr/bin/perl

# signaller_ping_interval (issue 11): the server pings waiting listeners
# and paired peers; a client that has sent nothing one interval after a
# ping (it stopped reading and answering, its TCP connection still open)
# is closed with 1001 "Going Away" and its peer gets 4003 "Peer Gone", so
# a lost phone frees its handle within two intervals.  A client that
# answers stays.  With one worker and with two, pairs in one worker and
# across workers.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time sleep);
use Signaller::Test;

my $INTERVAL = 0.3;

my $CONF = <<'EOF';
server {
    %%LISTEN%%
    location / {
        signaller on;
        signaller_ping_interval 300ms;
        signaller_listen_timeout 30s;
        signaller_pipe_timeout 30s;
    }
    location /quiet/ {
        signaller on;
    }
}
EOF

# Reads for $secs, answering every ping with a pong; returns the pings.
sub answer_pings {
    my ($c, $secs) = @_;
    my $until = time + scaled($secs);
    my $pings = 0;
    while (time < $until) {
        my $f = $c->read_message($until - time, control => 1) // last;
        last if $f->{eof} || $f->{opcode} == OP_CLOSE;
        next unless $f->{opcode} == OP_PING;
        is($f->{payload}, '', 'a server ping has no payload') if !$pings;
        $pings++;
        $c->send_pong($f->{payload});
    }
    return $pings;
}

# What a client that stopped reading finds when it reads again: pings,
# then the close.
sub close_after_pings {
    my ($c, $code, $reason, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $m;
    do { $m = $c->read_message(1, control => 1) }
        while $m && !$m->{eof} && $m->{opcode} == OP_PING;
    ok($m && !$m->{eof} && $m->{opcode} == OP_CLOSE
        && ($m->{code} // 0) == $code && $m->{reason} eq $reason,
        "$name: pings, then $code") or diag(explain($m));
    $c->send_close($code);
    ok($c->wait_eof(3), "$name: the server closes TCP");
}

sub run_with {
    my ($t) = @_;
    my $n = $t->workers;

    # a listener that answers stays, for many intervals
    {
        my $h = $t->handle;
        my $l = $t->ws("/listen/$h");
        my $pings = answer_pings($l, 6 * $INTERVAL);
        cmp_ok($pings, '>=', 3, "[$n] a waiting listener is pinged "
            . "($pings pings in 6 intervals)");
        my $c = $t->ws("/connect/$h");
        is($c->status, 101, "[$n] and, having answered, still pairs");
        finish_pipe($l, $c, "[$n] after answering pings");
    }

    # a listener that stops reading frees its handle within two intervals
    {
        my $h = $t->handle;
        my $l = $t->ws("/listen/$h");
        my $t0 = time;
        my $again;
        while (time < $t0 + scaled(5)) {
            $again = $t->ws("/listen/$h");
            last if $again->status == 101;
            sleep 0.05;
        }
        is($again->status, 101, "[$n] a silent listener's handle is free");
        my $dt = time - $t0;
        cmp_ok($dt, '<', scaled(2 * $INTERVAL + 0.5),
            sprintf("[$n] within two intervals (%.2f s)", $dt));
        close_listener($again, "[$n] new listener");
        close_after_pings($l, 1001, 'Going Away', "[$n] the silent listener");
    }

    # a silent peer of a pair: the other one is told 4003
    for my $layout ($t->layouts) {
        for my $silent ('connector', 'listener') {
            my $name = "[$n, $layout] silent $silent";
            my ($l, $c) = $t->pair(layout => $layout);
            my ($quiet, $other) = $silent eq 'connector' ? ($c, $l)
                : ($l, $c);
            my $t0 = time;
            my $m;
            do { $m = $other->read_message(scaled(3), control => 1);
                 $other->send_pong($m->{payload})
                     if $m && !$m->{eof} && $m->{opcode} == OP_PING }
                while $m && !$m->{eof} && $m->{opcode} == OP_PING;
            ok($m && $m->{opcode} == OP_CLOSE && ($m->{code} // 0) == 4003
                && $m->{reason} eq 'Peer Gone', "$name: the other gets 4003")
                or diag(explain($m));
            cmp_ok(time - $t0, '<', scaled(2 * $INTERVAL + 0.5),
                "$name: within two intervals");
            $other->send_close(4003);
            ok($other->wait_eof(3), "$name: the other's TCP is closed");
            close_after_pings($quiet, 1001, 'Going Away', $name);
        }
    }

    # without the directive, no pings
    {
        my $h = $t->handle;
        my $l = $t->ws("/quiet/listen/$h");
        no_frame($l, 3 * $INTERVAL, "[$n] no pings without the directive");
        close_listener($l, "[$n] quiet");
    }
}

for my $n (1, 2) {
    my $t = Signaller::Test->new(workers => $n)->require_module;
    $t->run($CONF);
    run_with($t);
    $t->stop;
}

# what nginx -t says
{
    my $t = Signaller::Test->new->require_module;
    my ($rc, $out) = $t->test_config('server { listen 127.0.0.1:%%PORT%%; '
        . 'location / { signaller on; signaller_ping_interval 10s; } }');
    is($rc, 0, 'signaller_ping_interval 10s is accepted') or diag($out);
    for my $bad ('abc', '-1', '1x', '1s 2s') {
        ($rc, $out) = $t->test_config('server { listen 127.0.0.1:%%PORT%%; '
            . "location / { signaller on; signaller_ping_interval $bad; } }");
        isnt($rc, 0, "signaller_ping_interval $bad is refused");
        like($out, qr/\[emerg\].*signaller_ping_interval/,
            '... naming the directive');
    }
}

done_testing;
