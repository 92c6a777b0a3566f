#!/usr/bin/perl

# Flow control and resource bounds: a sender pushing 100 MiB at a peer
# that does not read leaves nginx's memory flat and is itself blocked, and
# every byte arrives intact once the peer reads (same worker and crossing
# workers); send_timeout ends a session whose client stops reading (4003
# to the other peer); client_header_timeout bounds slow handshakes without
# disturbing other sessions.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Errno qw(EAGAIN EWOULDBLOCK EINTR);
use IO::Select;
use Time::HiRes qw(time sleep);
use Signaller::Test;
use Signaller::Test::Client;

my $t = Signaller::Test->new(workers => 2)->require_module;
$t->run(<<'EOF');
server {
    %%LISTEN%%
    location / {
        signaller on;
        signaller_listen_timeout 20s;
        signaller_pipe_timeout 120s;
        signaller_max_messages 100000;
    }
}
server {
    %%LISTEN_1%%
    send_timeout 1s;
    location / {
        signaller on;
        signaller_listen_timeout 20s;
        signaller_pipe_timeout 120s;
        signaller_max_messages 100000;
    }
}
server {
    %%LISTEN_2%%
    client_header_timeout 1s;
    location / {
        signaller on;
        signaller_listen_timeout 20s;
        signaller_pipe_timeout 120s;
    }
}
EOF

my $MSGS = 1600;
my $SIZE = 65536;    # 1600 x 64 KiB = 100 MiB
my $base = join '', map { chr(($_ * 131 + ($_ >> 8)) % 256) } 0 .. $SIZE + 4096;

sub payload {
    my ($i) = @_;
    return pack('N', $i) . substr($base, ($i * 7) % 4096, $SIZE - 4);
}

# KiB of memory of all nginx workers (Pss where available, else VmRSS)
sub workers_kb {
    my $sum = 0;
    for my $pid ($t->all_worker_pids) {
        my $kb;
        if (open my $fh, '<', "/proc/$pid/smaps_rollup") {
            while (<$fh>) { $kb = $1, last if /^Pss:\s+(\d+) kB/ }
        }
        if (!defined $kb && open my $fh, '<', "/proc/$pid/status") {
            while (<$fh>) { $kb = $1, last if /^VmRSS:\s+(\d+) kB/ }
        }
        $sum += $kb // 0;
    }
    return $sum;
}

# Non-blocking writer of a stream of frames.
sub writer {
    my ($c, $n) = @_;
    return { c => $c, n => $n, i => 0, buf => '', off => 0, bytes => 0 };
}

sub writer_done { $_[0]{i} >= $_[0]{n} && $_[0]{off} >= length $_[0]{buf} }

# write what the socket takes now; returns the number of bytes written
sub writer_pump {
    my ($w) = @_;
    my $total = 0;
    while (1) {
        if ($w->{off} >= length $w->{buf}) {
            last if $w->{i} >= $w->{n};
            $w->{buf} = Signaller::Test::Client::frame(opcode => 2,
                payload => payload($w->{i}));
            $w->{off} = 0;
            $w->{i}++;
        }
        my $n = syswrite($w->{c}->sock, $w->{buf},
            length($w->{buf}) - $w->{off}, $w->{off});
        if (!defined $n) {
            last if $! == EAGAIN || $! == EWOULDBLOCK || $! == EINTR;
            die "write: $!\n";
        }
        $w->{off} += $n;
        $w->{bytes} += $n;
        $total += $n;
    }
    return $total;
}

# Reader of data messages: checks each against payload($k).
sub reader {
    my ($c) = @_;
    return { c => $c, k => 0, bad => 0, partial => undef, first_bad => undef,
        other => [] };
}

sub reader_pump {
    my ($r) = @_;
    my $c = $r->{c};
    my $got = $c->_fill(time);    # whatever is there now
    while (my $f = $c->_parse_frame) {
        my $op = $f->{opcode};
        if ($op == 2 || $op == 1) {
            $r->{partial} = { op => $op, data => $f->{payload} };
        } elsif ($op == 0 && $r->{partial}) {
            $r->{partial}{data} .= $f->{payload};
        } else {
            push @{$r->{other}}, $f;
            next;
        }
        next unless $f->{fin};
        my $m = delete $r->{partial};
        if ($m->{op} != 2 || $m->{data} ne payload($r->{k})) {
            $r->{bad}++;
            $r->{first_bad} //= $r->{k};
        }
        $r->{k}++;
    }
    return $got;
}

for my $case (['same', 'connector'], ['cross', 'connector'],
    ['cross', 'listener'])
{
    my ($layout, $who) = @$case;
    next unless grep { $_ eq $layout } $t->layouts;
    my $N = "[$layout, $who sends]";

    subtest "$N 100 MiB at a peer that does not read" => sub {
        my ($l, $c) = $t->pair(layout => $layout);
        my ($s, $p) = $who eq 'listener' ? ($l, $c) : ($c, $l);
        my $w = writer($s, $MSGS);
        my $sel = IO::Select->new($s->sock);

        my $before = workers_kb();
        my $t0 = time;
        my $last_progress = $t0;
        my ($at1, $max, $stalled_at) = (undef, $before, undef);
        my $next_sample = $t0;
        # push until the socket has stayed unwritable for 1.5 s, and keep
        # trying (and measuring) 1.5 s longer
        while (!writer_done($w)) {
            my $now = time;
            if ($now >= $next_sample) {
                my $kb = workers_kb();
                $max = $kb if $kb > $max;
                $at1 //= $kb if $now - $t0 >= 1;
                $next_sample = $now + 0.1;
            }
            last if $now - $last_progress > scaled(3);
            $stalled_at //= $last_progress
                if $now - $last_progress > scaled(1.5);
            $sel->can_write(0.05) or next;
            $last_progress = time if writer_pump($w) > 0;
        }
        my $pushed = $w->{bytes};
        diag(sprintf "$N before %d KiB, at 1 s %s KiB, max %d KiB; "
            . "%.1f MiB written before the sender blocked", $before,
            $at1 // '-', $max, $pushed / 1048576) if $ENV{TEST_VERBOSE};

        ok(!writer_done($w) && defined $stalled_at,
            "$N sender blocked (wrote only "
            . sprintf('%.1f', $pushed / 1048576) . ' of 100 MiB)');
        cmp_ok($pushed, '<', 48 * 1048576,
            "$N nginx took only what socket buffers hold");
        ok(defined $at1, "$N measured after the first second");
        cmp_ok($max - ($at1 // 0), '<', 2048,
            "$N worker memory flat after the first second (KiB)");
        cmp_ok($max - $before, '<', 6144,
            "$N worker memory grew by less than 6 MiB in all (KiB)");
        is(scalar(@{$s->{control}}), 0, "$N sender got nothing");
        no_frame($s, 0, "$N sender got no frame while blocked");

        # now the peer reads everything, the sender writes the rest
        my $r = reader($p);
        my $rsel = IO::Select->new($p->sock);
        my $deadline = time + scaled(40);
        while ($r->{k} < $MSGS && time < $deadline) {
            my $can_w = !writer_done($w);
            my ($rd, $wr) = IO::Select->select($rsel,
                $can_w ? $sel : undef, undef, 0.5);
            writer_pump($w) if $wr && @$wr;
            if ($rd && @$rd) {
                last if defined reader_pump($r) && $p->{eof};
            }
        }
        ok(writer_done($w), "$N sender wrote all 100 MiB");
        is($r->{k}, $MSGS, "$N peer got $MSGS messages");
        is($r->{bad}, 0, "$N every message intact and in order")
            or diag("first bad message: $r->{first_bad}");
        is(scalar(@{$r->{other}}), 0, "$N peer got no other frame");
        my $after = workers_kb();
        cmp_ok($after - $before, '<', 6144,
            "$N worker memory after the transfer (KiB)");
        finish_pipe($l, $c, $N);
    };
}

# send_timeout: the receiver never reads
for my $case (['same', 'connector'], ['cross', 'connector'],
    ['cross', 'listener'])
{
    my ($layout, $who) = @$case;
    next unless grep { $_ eq $layout } $t->layouts;
    my $N = "[$layout, $who sends]";

    subtest "$N send_timeout 1s, receiver never reads" => sub {
        my ($l, $c) = $t->pair(layout => $layout,
            listener_opts => { port_n => 1 },
            connector_opts => { port_n => 1 });
        my ($s, $p) = $who eq 'listener' ? ($l, $c) : ($c, $l);
        my $w = writer($s, $MSGS);
        my $sel = IO::Select->new($s->sock);
        my $t0 = time;
        my $last_progress = $t0;
        my ($close, $blocked, $left_when_blocked);
        while (time - $t0 < scaled(10)) {
            my ($rd, $wr) = IO::Select->select($sel,
                writer_done($w) ? undef : $sel, undef, 0.05);
            # blocked: no write went through for 0.2 s, with data left
            if (!defined $blocked && time - $last_progress > 0.2) {
                $blocked = $last_progress;
                $left_when_blocked = !writer_done($w);
            }
            # the close first: once it is sent the server drains the input
            if ($rd && @$rd) {
                my $m = $s->read_message(0.01);
                if ($m && ($m->{eof} || $m->{opcode} == OP_CLOSE)) {
                    $close = $m;
                    last;
                }
            }
            if ($wr && @$wr) {
                my $n = eval { writer_pump($w) } // 0;
                $last_progress = time if $n > 0;
            }
        }
        my $end = time;
        # (once its close is out the server drains the input, so what the
        # sender wrote after that says nothing)
        ok(defined $blocked && $left_when_blocked && $blocked < $end,
            "$N sender was blocked before the end");
        ok($close && !$close->{eof} && ($close->{code} // 0) == 4003
            && $close->{reason} eq 'Peer Gone', "$N sender gets 4003 "
            . '"Peer Gone"') or diag('got ' . ($close ? $close->{eof}
            ? 'EOF' : "close $close->{code} $close->{reason}" : 'nothing'));
        $blocked //= $end;
        diag(sprintf "$N sender blocked %.2f s after start, close after "
            . "%.2f s", $blocked - $t0, $end - $t0) if $ENV{TEST_VERBOSE};
        # the relay's write to the receiver blocks before the sender does
        cmp_ok($end - $t0, '>=', 0.9, "$N not before send_timeout");
        cmp_ok($end - $blocked, '<=', scaled(1.5),
            "$N about 1 s after the relay blocked");
        if ($close && !$close->{eof}) {
            $s->send_close(4003);
            eof_is($s, 3, "$N sender: server closes TCP");
        }
        # the receiver's connection is ended: EOF (or reset) once what the
        # kernel holds is read
        my $deadline = time + scaled(10);
        $p->{buf} = '';
        while (time < $deadline) {
            my $r = $p->_fill($deadline);
            $p->{buf} = '';
            last if defined $r && $r == 0;
        }
        ok($p->{eof}, "$N receiver's connection closed");
    };
}

# client_header_timeout
subtest 'client_header_timeout 1s' => sub {
    my ($l, $c) = $t->pair(listener_opts => { port_n => 2 },
        connector_opts => { port_n => 2 });
    $l->send_text('before');
    msg_is($c, OP_TEXT, 'before', 'pipe works before');

    my $h = $t->handle;
    my $half = $t->client(port_n => 2);
    my $req = $half->request_bytes("/listen/$h");
    $half->send_raw(substr($req, 0, int(length($req) / 2)));

    my $drip = $t->client(port_n => 2);
    my $h2 = $t->handle;
    my $req2 = $drip->request_bytes("/listen/$h2");

    my $t0 = time;
    my ($half_end, $drip_end);
    my ($i, $k) = (0, 0);
    while (time - $t0 < 4 && !(defined $half_end && defined $drip_end)) {
        # the drip client sends one byte every 50 ms (it would need 10 s)
        if (!defined $drip_end && $i < length $req2) {
            $drip->send_raw(substr($req2, $i++, 1), 0.1);
        }
        for ([$half, \$half_end], [$drip, \$drip_end]) {
            my ($cl, $end) = @$_;
            next if defined $$end;
            my $r = $cl->_fill(time + 0.025);
            $$end = time - $t0 if defined $r && $r == 0;
        }
        # the paired session is not disturbed meanwhile
        unless (++$k % 10) {
            $c->send_binary("m$k");
            msg_is($l, OP_BINARY, "m$k", 'pipe works meanwhile') or last;
        }
    }
    for ([$half, $half_end, 'half a handshake'],
        [$drip, $drip_end, 'a handshake sent a byte per 50 ms'])
    {
        my ($cl, $end, $what) = @$_;
        ok(defined $end, "$what: connection closed");
        cmp_ok($end // 99, '>=', 0.9, "$what: not before 1 s");
        cmp_ok($end // 99, '<=', 2, "$what: by about 1 s");
        my $got = $cl->{buf};
        ok($got eq '' || $got =~ m{^HTTP/1\.[01] 408 }, "$what: 408 or "
            . 'nothing') or diag("got: " . substr($got, 0, 60));
        unlike($got, qr{ 101 }, "$what: no 101");
    }
    # their handles were never registered
    for my $hh ($h, $h2) {
        my $x = $t->listen_ws($hh, port_n => 2);
        is($x->status, 101, "handle of the slow handshake is free");
        close_listener($x, 'slow handshake handle');
    }
    $c->send_text('after');
    msg_is($l, OP_TEXT, 'after', 'pipe works after');
    finish_pipe($l, $c, 'client_header_timeout');
};

$t->stop;
done_testing;
