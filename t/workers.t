#!/usr/bin/perl

# Many pairs at once on 4 workers (issue 3): 200+ concurrent pairs, opened
# all listeners first, then all connectors, then every pair exchanges text
# and binary messages both ways (small, 16-bit lengths, over 16 KB, empty,
# fragmented, a ping between fragments) at the same time, driven by one
# select() loop. Every message must arrive intact, in order and with its
# type; a 1000 close from one side gives the other 1000 "Normal Closure".
# The access log ($pid per request) proves that many pairs crossed workers.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time sleep);
use Signaller::Test;
use Signaller::Workers qw(status status_line wait_status pair_pids
    utf8_bytes rand_bytes);

my $PAIRS = $ENV{SIGNALLER_PAIRS} // 240;

my $t = Signaller::Test->new(workers => 4)->require_module;
$t->run(<<'EOF');
server {
    %%LISTEN%%
    location = /signaller_status { signaller_status; }
    location / {
        signaller on;
        signaller_zone signaller 1m;
        signaller_listen_timeout 20s;
        signaller_pipe_timeout 30s;
    }
}
EOF

my $t_start = time;
my $base = status($t)->{signaller};
ok($base, 'signaller_status answers: ' . status_line($base));
is($base->{waiting}, 0, 'nothing waiting at start') if $base;
is($base->{workers}, 4, '4 workers attached to the zone') if $base;

my $mux = Signaller::Workers::Mux->new;
my @h = map { $t->handle } 1 .. $PAIRS;

# all listeners, concurrently
my @l = $mux->open($t, [map { "/listen/$_" } @h]);
is(scalar(grep { ($_->{status} // 0) == 101 } @l), $PAIRS,
    "$PAIRS listeners got 101");

my $s = wait_status($t, 'signaller', sub { $_[0]{waiting} == $PAIRS }, 3);
is($s->{waiting}, $PAIRS, "signaller_status: waiting $PAIRS");

# A message each listener sends while it waits: held, delivered first.
my (@to_c, @to_l);    # expected messages per pair: [opcode, payload]
for my $i (0 .. $#h) {
    my $pre = utf8_bytes("pre-pairing $i \x{e9}t\x{e9}");
    $mux->queue($l[$i], text => $pre);
    push @{$to_c[$i]}, [1, $pre];
}
$mux->pump(sub { !grep { length $_->{out} } @l }, 5);
sleep 0.2;    # let the workers read them before the connectors come

# all connectors, concurrently
my @c = $mux->open($t, [map { "/connect/$_" } @h]);
is(scalar(grep { ($_->{status} // 0) == 101 } @c), $PAIRS,
    "$PAIRS connectors got 101");

# The script: both directions, all kinds of messages.
for my $i (0 .. $#h) {
    my $big_l = rand_bytes(16 * 1024 + 1 + ($i * 97) % 8000);    # > 16 KB
    my $big_c = rand_bytes(40000 + $i);
    my $mid = 'm' x (126 + $i * 7);                 # 16-bit length form
    my $txt = utf8_bytes("pair $i: \x{263a} \x{1f600} caf\x{e9}");
    # a text message fragmented inside a multi-byte UTF-8 sequence
    my $u = utf8_bytes("fragments \x{263a}\x{263a} $i");
    my @u = (substr($u, 0, 11), substr($u, 11, 3), substr($u, 14));
    my @bf = map { rand_bytes(1000 + $_ * 3000) } 0 .. 3;  # 4 fragments

    my @lsend = (
        [text => $txt, 1, $txt],
        [binary => rand_bytes(1 + $i % 125)],
        [text => $mid, 1, $mid],
        [binary => $big_l],
        [frag => [1, @u], 1, $u],
        [binary => ''],
        [frag_ping => [2, "lp$i", @bf], 2, join('', @bf)],
        [text => "last from listener $i"],
    );
    my @csend = (
        [binary => $big_c],
        [text => '', 1, ''],
        [frag => [2, 'a' x 10, '', 'c' x 200], 2,    # empty fragment
            ('a' x 10) . ('c' x 200)],
        [text => $txt],
        [frag_ping => [1, "cp$i", 'x' x 20000, 'y' x 3], 1,
            ('x' x 20000) . 'yyy'],
        [binary => rand_bytes(300)],
        [text => "last from connector $i"],
    );
    for ([\@lsend, $l[$i], \@to_c], [\@csend, $c[$i], \@to_l]) {
        my ($list, $peer, $exp) = @$_;
        for my $m (@$list) {
            my ($kind, $v, $op, $payload) = @$m;
            $mux->queue($peer, $kind => $v);
            $op //= $kind eq 'text' ? 1 : 2;
            $payload //= $v;
            push @{$exp->[$i]}, [$op, $payload];
        }
    }
}

my $t0 = time;
my $done = $mux->pump(sub {
    for my $i (0 .. $#h) {
        return 0 if @{$c[$i]{msgs}} < @{$to_c[$i]} && !$c[$i]{eof}
            && !$c[$i]{close};
        return 0 if @{$l[$i]{msgs}} < @{$to_l[$i]} && !$l[$i]{eof}
            && !$l[$i]{close};
        # the pongs to the pings between fragments may come after the data
        return 0 unless grep({ $_ eq "lp$i" } @{$l[$i]{pongs}})
            && grep({ $_ eq "cp$i" } @{$c[$i]{pongs}})
            || $c[$i]{eof} || $l[$i]{eof};
    }
    return 1;
}, 30);
my $bytes = 0;
$bytes += length($_->[1]) for map { @$_ } @to_c, @to_l;
ok($done, sprintf('all messages of %d pairs received (%.1f MB in %.2f s)',
    $PAIRS, $bytes / 1e6, time - $t0));

# compare: intact, in order, right type
my (@bad, $msgs);
for my $i (0 .. $#h) {
    for (['connector', $c[$i], $to_c[$i]], ['listener', $l[$i], $to_l[$i]]) {
        my ($who, $peer, $exp) = @$_;
        my $got = $peer->{msgs};
        for my $k (0 .. $#$exp) {
            $msgs++;
            my $g = $got->[$k];
            my $e = $exp->[$k];
            next if $g && $g->{opcode} == $e->[0] && $g->{payload} eq $e->[1];
            push @bad, "pair $i $who message $k: expected opcode $e->[0] "
                . length($e->[1]) . ' bytes, got '
                . ($g ? "opcode $g->{opcode} " . length($g->{payload})
                    . ' bytes' : 'nothing');
            last;
        }
        push @bad, "pair $i $who: " . (@$got - @$exp) . ' extra messages'
            if @$got > @$exp;
        push @bad, "pair $i $who: close before the end: "
            . ($peer->{close}{code} // '(empty)') if $peer->{close};
        push @bad, "pair $i $who: EOF before the end" if $peer->{eof};
        push @bad, "pair $i $who: $_ x $peer->{errors}{$_}"
            for sort keys %{$peer->{errors} // {}};
    }
}
ok(!@bad, "all $msgs messages intact, in order, with their type");
diag(join "\n", @bad[0 .. ($#bad < 19 ? $#bad : 19)]) if @bad;

# pings between fragments were answered
my $pongs = grep {
    my $i = $_;
    grep({ $_ eq "lp$i" } @{$l[$i]{pongs}})
        && grep({ $_ eq "cp$i" } @{$c[$i]{pongs}})
} 0 .. $#h;
is($pongs, $PAIRS, 'pings between fragments answered with pongs');

# close with 1000 from one side (listener for even pairs, connector for odd)
my (@closer, @other);
for my $i (0 .. $#h) {
    my ($a, $b) = $i % 2 ? ($c[$i], $l[$i]) : ($l[$i], $c[$i]);
    $mux->queue($a, close => [1000, 'bye']);
    push @closer, $a;
    push @other, $b;
}
$mux->pump(sub { !grep { !$_->{close} && !$_->{eof} } @closer, @other }, 10);
my @wrong;
for my $i (0 .. $#h) {
    for (['closer', $closer[$i]], ['other', $other[$i]]) {
        my ($who, $p) = @$_;
        my $m = $p->{close};
        push @wrong, "pair $i $who: " . ($m ? "close "
            . ($m->{code} // '(empty)') . " \"$m->{reason}\"" : 'no close')
            unless $m && ($m->{code} // 0) == 1000
                && $m->{reason} eq 'Normal Closure';
    }
}
ok(!@wrong, 'closing side: its 1000 echoed; other side: 1000 '
    . '"Normal Closure" (all pairs)');
diag(join "\n", @wrong[0 .. ($#wrong < 19 ? $#wrong : 19)]) if @wrong;

$mux->queue($_, close => [1000]) for grep { $_->{close} && !$_->{eof} }
    @other;
$mux->pump(sub { !grep { !$_->{eof} } @closer, @other }, 5);
is(scalar(grep { $_->{eof} } @closer, @other), 2 * $PAIRS,
    'server closed every TCP connection');
$_->close for @closer, @other;

# access log: one 101 line per listener and connector, with its pid
my @log;
my $deadline = time + 3;
while (1) {
    @log = grep { $_->{status} == 101 } $t->access_log;
    last if @log >= 2 * $PAIRS || time > $deadline;
    sleep 0.05;
}
my ($crossed, $complete) = (0, 0);
my %pids;
for my $h (@h) {
    my ($lp, $cp) = pair_pids($t, $h, @log);
    next unless defined $lp && defined $cp;
    $complete++;
    $crossed++ if $lp != $cp;
    $pids{$_}++ for $lp, $cp;
}
is($complete, $PAIRS, 'access log: listener and connector line for '
    . 'every handle');
my $pct = $complete ? 100 * $crossed / $complete : 0;
diag(sprintf 'workers.t: %d of %d pairs crossed workers (%.0f%%), '
    . 'sessions per worker: %s', $crossed, $complete, $pct,
    join(' ', map { "$_=$pids{$_}" } sort keys %pids));
cmp_ok($pct, '>', 25, 'more than 25% of the pairs crossed workers');
is(scalar(keys %pids), 4, 'all 4 workers served sessions');

my ($end, $dt) = wait_status($t, 'signaller',
    sub { $_[0]{waiting} == 0 && $_[0]{free} == $base->{free} }, 3);
is($end->{waiting}, 0, 'signaller_status: waiting 0 at the end');
is($end->{free}, $base->{free}, 'signaller_status: free pages back to '
    . "$base->{free} (" . status_line($end) . ')');

$t->stop;
diag(sprintf 'workers.t: %.1f s', time - $t_start);
done_testing;
