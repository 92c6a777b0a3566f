#!/usr/bin/perl

# Security regressions (issue 9). Sections:
#
#   1. bytes behind the request: WebSocket frames a client writes in the
#      same write() as its upgrade request, after request headers large
#      enough (> 1k) to make nginx move the request into a large header
#      buffer. nginx has read some or all of those frames into
#      r->header_in before the module takes the connection over; they must
#      reach the peer whole and in order, whatever their amount, for a
#      listener (sending before a connector exists) and a connector
#      (sending to a waiting listener), in one worker and across workers,
#      with header buffers of 20k, 32k and 64k. Before the fix they were
#      copied unbounded into a 16 KB session buffer (heap overflow) or,
#      on the crossing path, cut at 16 KB.
#
# Each configuration runs its own nginx with 2 workers, in turn.
#
# The workers' inter-worker sockets live in the abstract namespace, where
# any process of the network namespace can connect to or bind a name:
#
#   2. a process of the workers' own uid that is not a worker is
#      disconnected at once, before it sends anything, and a forged
#      preamble never reaches a session; a crossing pair keeps the limits
#      of the listener's location, whatever the connector's worker says;
#   3. names cannot be squatted: the names the old scheme used (the pid)
#      bound in advance, a reload still brings up workers that pair across
#      each other; a bind() that fails is retried under a new name, and a
#      worker without a relay socket still runs; two nginx instances in
#      separate pid namespaces (their workers have the same pids) sharing
#      one network namespace both relay across their workers;
#   4. a dead worker's pid taken by another process of the same uid, which
#      binds the dead worker's socket name: its entries are still purged,
#      and a connector never talks to it; a connector whose listener's
#      worker does not answer leaves the listener waiting.
#
# Sections 2 to 4 need root (setpriv, unshare, /proc/sys/kernel/ns_last_pid)
# and are skipped without it; CI runs as root.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use File::Temp qw(tempdir);
use IO::Select;
use List::Util qw(sum0);
use POSIX ();
use Socket qw(SOL_SOCKET SO_SNDBUF AF_UNIX SOCK_STREAM
    SOCK_SEQPACKET pack_sockaddr_un);
use Test::More;
use Time::HiRes qw(time sleep);
use Signaller::Test;
use Signaller::Test::Client;
use Signaller::Workers qw(status wait_status);

my $T0 = time;

### helpers ###

use constant K => 1024;

sub F { Signaller::Test::Client::frame(@_) }

# Request headers that push the request past client_header_buffer_size's
# default 1k (nginx then moves it into a large header buffer).
sub pad_headers { return (headers => [['X-Pad', 'a' x 1500]]) }

# A client on the worker that $layout asks for relative to $peer (opened
# with a probe), or on any worker if there is nothing to steer by; either
# way its connection has served one /_pid probe and nothing else, so the
# caller can still write its upgrade request and data in one write().
sub steered_client {
    my ($t, $layout, $peer) = @_;
    my %want = $peer ? $t->layout_opts($layout, $peer) : ();
    my $c = $t->client_on(%want);
    $c->probe_pid unless %want;
    return $c;
}

# Write the upgrade request for $path (padded past 1k) and $data in ONE
# write(), then read the response head. Returns the status (undef if none).
sub upgrade_with_data {
    my ($c, $path, $data, %o) = @_;
    my $bytes = $c->request_bytes($path, pad_headers(), %o) . $data;
    my $s = $c->sock;
    setsockopt($s, SOL_SOCKET, SO_SNDBUF, 1 << 20);
    $s->blocking(1);
    my $n = syswrite($s, $bytes);
    $s->blocking(0);
    diag("upgrade_with_data: wrote " . ($n // "nothing ($!)") . " of "
        . length($bytes) . ' bytes') unless ($n // -1) == length $bytes;
    return $c->handshake($path, raw => '');    # reads the response only
}

# The response is exactly a 101 for this key.
sub is_101 {
    my ($c, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $ok = is($c->status, 101, "$name: 101");
    $ok &&= is($c->header('Sec-WebSocket-Accept'), $c->expected_accept,
        "$name: Sec-WebSocket-Accept");
    return $ok;
}

# Bytes a frame of $len payload bytes takes on the wire (masked).
sub frame_size {
    my ($len) = @_;
    return ($len < 126 ? 2 : $len < 65536 ? 4 : 10) + 4 + $len;
}

# Whether $r bytes can be made exactly by one masked frame (the 7-bit and
# 16-bit length forms leave a gap at 132 and 133 bytes).
sub fillable {
    my ($r) = @_;
    return $r == 0 || ($r >= 6 && $r <= 131) || ($r >= 134 && $r <= 65543);
}

# Recognisable payload of message $i ($tag names the case).
sub payload {
    my ($tag, $i, $op, $len) = @_;
    my $unit = "[$tag #$i]" . ($op == OP_TEXT
        ? 'abcdefghijklmnopqrstuvwxyz0123456789'
        : pack('C*', map { ($i * 37 + $_) & 0xff } 0 .. 255));
    return substr($unit x (int($len / length $unit) + 1), 0, $len);
}

# Messages whose frames total exactly $size bytes: small ones (7-bit and
# 16-bit length edges, an empty one), from 20 KB on a 17000-byte binary in
# 3 frames, from 40 KB also a 20500-byte text in 4 frames, then 3000-byte
# ones, then one frame that makes up the rest. Text and binary alternate.
# Each: { op, payload, parts => [fragment lengths] }.
sub plan_messages {
    my ($size, $tag) = @_;
    my (@plan, $r);
    $r = $size;
    my $add = sub {
        my $w = sum0(map { frame_size($_) } @_);
        return 0 if $w > $r || !fillable($r - $w);
        push @plan, [@_];
        $r -= $w;
        return 1;
    };
    $add->($_) for 10, 200, 125, 126, 0;
    $add->(5000, 5000, 7000) if $size >= 20 * K;
    $add->(8000, 8000, 4000, 500) if $size >= 40 * K;
    1 while $r >= 3008 + 134 && $add->(3000);
    if ($r) {
        die "cannot fill $r bytes\n" unless fillable($r);
        $add->($r <= 131 ? $r - 6 : $r - 8) or die "filler of $r\n";
    }
    my @m;
    for my $i (0 .. $#plan) {
        my $op = $i % 2 ? OP_BINARY : OP_TEXT;
        my $len = sum0(@{$plan[$i]});
        push @m, { op => $op, parts => $plan[$i],
            payload => payload($tag, $i + 1, $op, $len) };
    }
    return @m;
}

sub messages_bytes {
    my $b = '';
    for my $m (@_) {
        my @parts;
        my $off = 0;
        for my $len (@{$m->{parts}}) {
            push @parts, substr($m->{payload}, $off, $len);
            $off += $len;
        }
        $b .= @parts == 1 ? F(opcode => $m->{op}, payload => $parts[0])
            : Signaller::Test::Client::fragments_bytes($m->{op}, @parts);
    }
    return $b;
}

# $to receives every message of @$msgs, in order; stops at the first
# that does not match (the rest would only time out). 1 if all arrived.
sub receive_all {
    my ($to, $msgs, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $n = @$msgs;
    for my $i (0 .. $#$msgs) {
        my $m = $msgs->[$i];
        my $len = length $m->{payload};
        my $frames = @{$m->{parts}};
        next if msg_is($to, $m->{op}, $m->{payload},
            "$name: message " . ($i + 1) . "/$n ($len B in $frames frame"
            . ($frames > 1 ? 's' : '') . ')');
        diag("$name: messages " . ($i + 2) . "..$n not checked")
            if $i < $#$msgs;
        return 0;
    }
    return 1;
}

# After the pipelined data: one more message each way, then a clean end
# (close codes checked by finish_pipe).
sub tail_and_finish {
    my ($l, $c, $from, $to, $tag, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    $from->send_text("tail $tag");
    msg_is($to, OP_TEXT, "tail $tag", "$name: a later message follows");
    $to->send_binary("back $tag");
    msg_is($from, OP_BINARY, "back $tag", "$name: the other way too");
    finish_pipe($l, $c, $name);
}

sub abandon { $_->close for grep { defined } @_; return }

# Run one case as a subtest: a die fails it instead of ending the file, and
# the workers alive when it started must still be alive at its end (a
# worker that crashes is respawned and would hide it until $t->stop).
sub case {
    my ($t, $name, $code) = @_;
    subtest $name => sub {
        my @pids = $t->worker_pids;
        eval { $code->(); 1 } or fail("$name: " . ($@ =~ s/\s+\z//r));
        my @dead = grep { !kill 0, $_ } @pids;
        ok(!@dead, "$name: no worker died")
            or diag("$name: worker(s) @dead gone; error.log:\n",
                join "\n", $t->grep_log(qr/exited on signal/));
    };
}

### 1. bytes behind the request ###

# Bytes of frames behind the request. With a ~1.7 KB request a 20k buffer
# holds up to 16 KB + 1 of them, a 32k one up to 30 KB, a 64k one all;
# what the buffer cannot hold stays in the socket and must follow.
my @SIZES = (0, 1 * K, 16 * K - 1, 16 * K + 1, 30 * K, 60 * K);

my @CONFIGS = (
    ['20k header buffer', 'client_header_buffer_size 20k;'],
    ['4 32k large buffers', 'large_client_header_buffers 4 32k;'],
    ['2 64k large buffers', 'large_client_header_buffers 2 64k;'],
);

# The listener writes its request and $size bytes of frames at once; a
# connector steered per $layout must get them all.
sub listener_sends {
    my ($t, $layout, $size, $name) = @_;
    my @msgs = plan_messages($size, "L$size");
    my $h = $t->handle;
    my $l = steered_client($t);    # probed: the connector is steered by it
    upgrade_with_data($l, "/listen/$h", messages_bytes(@msgs));
    is_101($l, "$name: listener") or return abandon($l);
    my $c = $t->connect_ws($h, $t->layout_opts($layout, $l));
    is_101($c, "$name: connector") or return abandon($l, $c);
    receive_all($c, \@msgs, "$name: connector gets") or return abandon($l, $c);
    tail_and_finish($l, $c, $l, $c, "L$size", $name);
}

# A listener waits; a connector steered per $layout writes its request and
# $size bytes of frames at once; the listener must get them all.
sub connector_sends {
    my ($t, $layout, $size, $name) = @_;
    my @msgs = plan_messages($size, "C$size");
    my $h = $t->handle;
    my $l = $t->listen_ws($h, probe => 1);
    is_101($l, "$name: listener") or return abandon($l);
    my $c = steered_client($t, $layout, $l);
    upgrade_with_data($c, "/connect/$h", messages_bytes(@msgs));
    is_101($c, "$name: connector") or return abandon($l, $c);
    receive_all($l, \@msgs, "$name: listener gets") or return abandon($l, $c);
    tail_and_finish($l, $c, $c, $l, "C$size", $name);
}

for my $cf (@CONFIGS) {
    my ($cname, $directive) = @$cf;
    my $t = Signaller::Test->new(workers => 2)->require_module;
    $t->run(<<"EOF");
server {
    %%LISTEN%%
    $directive
    location / {
        signaller on;
        signaller_max_messages 10000;
        signaller_max_message_size 1m;
    }
}
EOF
    for my $layout ($t->layouts) {
        for my $role (['listener', \&listener_sends],
            ['connector', \&connector_sends])
        {
            for my $size (@SIZES) {
                my $name = "[$cname] [$layout] $role->[0] sends $size B"
                    . " behind its request";
                case($t, $name, sub {
                    $role->[1]->($t, $layout, $size, $name);
                });
            }
        }
    }
    $t->stop;
}

my $SERVER = <<'EOF';
server {
    %%LISTEN%%
    location = /signaller_status { signaller_status; }
    location / {
        signaller on;
        signaller_listen_timeout 30s;
    }
    location /few/ {
        signaller on;
        signaller_max_messages 3;
    }
}
EOF

### helpers of sections 2 to 4 ###

# The relay sockets of nginx's workers, from /proc/net/unix: pid => name
# (without the leading '@'); with $link, their link sockets (".../link").
sub relay_names {
    my ($t, $link) = @_;
    my %by_inode;
    open my $fh, '<', '/proc/net/unix' or die "/proc/net/unix: $!";
    while (my $line = <$fh>) {
        my @f = split ' ', $line;
        # Num RefCount Protocol Flags Type St Inode Path; listening: 00010000
        next unless @f >= 8 && $f[3] eq '00010000'
            && $f[7] =~ m{^\@(ngx_http_signaller/.*)$};
        my $name = $1;
        next unless $link xor $name !~ m{/link$};
        $by_inode{$f[6]} = $name;
    }
    my %names;
    for my $pid ($t->all_worker_pids) {
        opendir my $d, "/proc/$pid/fd" or next;
        for my $fd (readdir $d) {
            my $l = readlink("/proc/$pid/fd/$fd") // next;
            $names{$pid} = $by_inode{$1}
                if $l =~ /^socket:\[(\d+)\]$/ && $by_inode{$1};
        }
    }
    return \%names;
}

# uid and gid the workers run as
sub workers_ids {
    my ($pid) = @_;
    open my $fh, '<', "/proc/$pid/status" or die "/proc/$pid/status: $!";
    my ($uid, $gid);
    while (<$fh>) {
        $uid = $1 if /^Uid:\s+(\d+)/;
        $gid = $1 if /^Gid:\s+(\d+)/;
    }
    return ($uid, $gid);
}

# Connects to the abstract socket $name as $uid/$gid (a process that is not
# a worker), writes $bytes if given, and reads for up to 3 s. Returns
# (what happened: 'eof' or 'data' or 'open' or 'refused', seconds until
# then, bytes read).
my $PROBE = <<'EOF';
use strict;
use Socket;
use IO::Select;
use Time::HiRes qw(time);
$SIG{PIPE} = 'IGNORE';
my ($name, $hex, $type) = @ARGV;
socket(my $s, AF_UNIX, $type ? SOCK_SEQPACKET : SOCK_STREAM, 0)
    or die "socket: $!";
connect($s, pack_sockaddr_un("\0$name")) or do { print "refused 0\n"; exit };
my $t0 = time;
syswrite($s, pack('H*', $hex)) if length($hex // '');
my ($got, $what) = ('', 'open');
my $sel = IO::Select->new($s);
while (time - $t0 < 3) {
    last unless $sel->can_read(3 - (time - $t0));
    my $n = sysread($s, my $b, 100);
    if (!$n) { $what = 'eof'; last }
    $got .= $b;
}
$what = 'data' if length $got;
printf "%s %.3f %s\n", $what, time - $t0, unpack('H*', $got);
EOF

# on a link socket ($name ending in "/link"), a seqpacket connection
sub probe_as {
    my ($uid, $gid, $name, $bytes) = @_;
    my @cmd = ('setpriv', "--reuid=$uid", "--regid=$gid", '--clear-groups',
        'perl', '-e', $PROBE, $name, unpack('H*', $bytes // ''),
        $name =~ m{/link$} ? 1 : 0);
    open my $fh, '-|', @cmd or die "setpriv: $!";
    my $out = <$fh> // '';
    close $fh;
    my ($what, $secs, $hex) = split ' ', $out;
    return ($what // 'none', $secs // 0, pack('H*', $hex // ''));
}

# version 2, with $flags (0: a splice; on a link, with a tag: a
# connector that left)
sub preamble {
    my ($id, $handle, $flags) = @_;
    return "SGNL\x02" . chr($flags // 0) . chr(length $handle) . $id
        . $handle;
}

sub listener_on {
    my ($t, $pid, %o) = @_;
    my $h = $o{handle} // $t->handle;
    my $l = $t->ws(($o{base} // '') . "/listen/$h", worker => $pid);
    die "listen: " . ($l->status // 'none') . "\n"
        unless ($l->status // 0) == 101;
    $l->{handle} = $h;
    return $l;
}

sub connect_status {
    my ($t, $h, %o) = @_;
    my $c = $t->ws("/connect/$h", %o);
    my $st = $c->status;
    $c->close;
    return $st;
}

# A pair across workers relays both ways and ends with 1000.
sub crossing_pair_works {
    my ($t, $name) = @_;
    my ($l, $c) = eval { $t->pair(layout => 'cross') };
    ok($l && $c, "$name: a crossing pair gets 101 twice") or do {
        diag($@);
        return;
    };
    isnt($l->pid, $c->pid, "$name: on two workers (" . $l->pid . ', '
        . $c->pid . ')') if defined $c->pid;
    $l->send_text("to connector: $name");
    msg_is($c, OP_TEXT, "to connector: $name", "$name: listener to connector");
    $c->send_binary("\x00to listener\xff");
    msg_is($l, OP_BINARY, "\x00to listener\xff",
        "$name: connector to listener");
    finish_pipe($l, $c, $name);
}

sub write_proc {
    my ($path, $value) = @_;
    open my $fh, '>', $path or return;
    print $fh $value;
    return close $fh;
}

SKIP: {
    my $why = $> != 0 ? 'not root'
        : (grep { system("command -v $_ >/dev/null") } qw(setpriv unshare cc))
        ? 'setpriv, unshare or cc missing' : undef;
    skip("sections 2 to 4 need root, setpriv, unshare and cc: $why", 1)
        if $why;

    ### 2. a process of the workers' uid that is not a worker ###
    {
        my $t = Signaller::Test->new(workers => 2)->require_module;
        $t->run($SERVER);
        my @w = $t->worker_pids;
        my ($uid, $gid) = workers_ids($w[0]);
        my $names = relay_names($t);
        is(scalar(keys %$names), 2, 'each worker has a relay socket')
            or diag(explain($names));
        my $links = relay_names($t, 1);
        is(scalar(keys %$links), 2, 'and a link socket')
            or diag(explain($links));

        for my $pid (sort keys %$names) {
            my $name = $names->{$pid};
            like($name, qr{^ngx_http_signaller/[0-9a-f]{32}$},
                "worker $pid: a random name, not its pid ($name)");
            unlike($name, qr{/\Q$pid\E$}, "worker $pid: the name is not the pid");
            is($links->{$pid}, "$name/link", "worker $pid: its link socket");

            for my $n ($name, "$name/link") {
                my ($what, $secs, $got) = probe_as($uid, $gid, $n);
                is($what, 'eof', "uid $uid, not a worker, to $n of worker "
                    . "$pid: disconnected without sending anything");
                cmp_ok($secs, '<', scaled(1),
                    sprintf('... within a second (%.3f s)', $secs));
            }
        }

        my @refused = $t->grep_log(qr/refused a relay connection from pid \d+, uid $uid: not a worker/);
        is(scalar(@refused), 4, 'each refusal is logged, with pid and uid');

        # a forged preamble, for a real waiting listener, from the listener's
        # handle and a guessed id
        my $l = listener_on($t, $w[0]);
        my $forged = preamble(pack('C*', map { int rand 256 } 1 .. 16),
            $l->{handle});
        my ($what, $secs, $got) = probe_as($uid, $gid, $names->{$w[0]},
            $forged);
        is($what, 'eof', 'a forged preamble: the connection is closed');
        is($got, '', '... and never answered');
        # on the link, word that its connector left (a preamble with a
        # tag): it would close the listener, had it the right id
        ($what, $secs, $got) = probe_as($uid, $gid, $links->{$w[0]},
            $forged . pack('Q>', 1));
        is($what, 'eof', 'a forged handoff on the link: the link is closed');
        is($got, '', '... and never answered');
        no_frame($l, 0.3, 'the listener is told nothing');
        my $c = $t->ws("/connect/$l->{handle}", not_worker => $w[0]);
        is($c->status, 101, 'the listener still pairs, across workers');
        $c->send_text('real');
        msg_is($l, OP_TEXT, 'real', 'with the real connector');
        finish_pipe($l, $c, 'after a forged preamble');

        # The pair follows the listener's location (/few/: 3 messages a
        # peer), not the connector's, in one worker as across workers.
        for my $layout ($t->layouts) {
            for my $r (['/few', '', 3], ['', '/few', 4]) {
                my ($lbase, $cbase, $n) = @$r;
                my $name = "$layout, listener at '$lbase/', connector at "
                    . "'$cbase/'";
                my $h = $t->handle;
                my $pl = $t->ws("$lbase/listen/$h", probe => 1);
                my $pc = $t->ws("$cbase/connect/$h",
                    $t->layout_opts($layout, $pl));
                is($pc->status, 101, "$name: paired");
                $pc->send_text("m$_") for 1 .. $n;
                msg_is($pl, OP_TEXT, "m$_", "$name: message $_ relayed")
                    for 1 .. $n;
                if ($n == 3) {
                    close_is($pc, 4002, 'Too Many Messages',
                        "$name: the listener's location's limit holds");
                    close_is($pl, 4002, 'Too Many Messages',
                        "$name: both told");
                } else {
                    finish_pipe($pl, $pc, "$name: no limit of 3");
                }
            }
        }

        $t->stop;
    }

    ### 3. names that cannot be squatted ###
    {
        # the names the old scheme gave the next workers, bound in advance
        my $t = Signaller::Test->new(workers => 2)->require_module;
        $t->run($SERVER);
        my $last = do {
            open my $fh, '<', '/proc/sys/kernel/ns_last_pid' or die $!;
            <$fh> + 0;
        };
        my @squat;
        for my $pid ($last + 1 .. $last + 300) {
            socket(my $s, AF_UNIX, SOCK_STREAM, 0) or die "socket: $!";
            bind($s, pack_sockaddr_un("\0ngx_http_signaller/$pid")) or next;
            listen($s, 5);
            push @squat, $s;
        }
        cmp_ok(scalar(@squat), '>=', 290, scalar(@squat) . ' names squatted');
        my @new = $t->reload;
        is(scalar(@new), 2, 'a reload brings up 2 workers all the same');
        crossing_pair_works($t, 'after squatting');
        is(scalar(keys %{relay_names($t)}) >= 2, 1,
            'the new workers have relay sockets');
        close $_ for @squat;
        $t->stop;
    }

    {
        # bind() fails for a name: a new one is tried, and a worker left with
        # none at all still serves its clients
        my $dir = tempdir('signaller-shim-XXXXXX', TMPDIR => 1, CLEANUP => 1);
        open my $fh, '>', "$dir/shim.c" or die $!;
        print $fh <<~'EOF';
    #define _GNU_SOURCE
    #include <dlfcn.h>
    #include <errno.h>
    #include <stdlib.h>
    #include <string.h>
    #include <sys/socket.h>
    #include <sys/un.h>

    /* read in the master: nginx clears the workers' environment */
    static int  fails;

    __attribute__((constructor)) static void
    init(void)
    {
        const char  *v = getenv("SIGNALLER_SHIM_FAILS");

        fails = v ? atoi(v) : 0;
    }

    int
    bind(int fd, const struct sockaddr *sa, socklen_t len)
    {
        static int  (*real)(int, const struct sockaddr *, socklen_t);
        const struct sockaddr_un  *sun = (const void *) sa;

        if (real == NULL) {
            real = (int (*)(int, const struct sockaddr *, socklen_t))
                       dlsym(RTLD_NEXT, "bind");
        }

        if (sa->sa_family == AF_UNIX && len > sizeof(sa_family_t) + 19
            && sun->sun_path[0] == '\0'
            && strncmp(sun->sun_path + 1, "ngx_http_signaller/", 19) == 0
            && fails > 0)
        {
            fails--;
            errno = EADDRINUSE;
            return -1;
        }

        return real(fd, sa, len);
    }
    EOF
        close $fh;
        system('cc', '-shared', '-fPIC', '-O1', '-o', "$dir/shim.so",
            "$dir/shim.c", '-ldl') == 0 or die "cc shim failed\n";
        local $ENV{LD_PRELOAD} = join ' ', grep { length }
            ($ENV{LD_PRELOAD} // ''), "$dir/shim.so";

        {
            local $ENV{SIGNALLER_SHIM_FAILS} = 3;
            my $t = Signaller::Test->new(workers => 2)->require_module;
            $t->run($SERVER);
            is(scalar($t->worker_pids), 2, 'names taken 3 times: 2 workers run');
            is(scalar($t->grep_log(qr/\[warn\].*bind\(\) to "\@ngx_http_signaller\/[0-9a-f]{32}" failed, trying another name \(98: /)),
                6, 'each worker tried 3 names that were taken, and said so');
            crossing_pair_works($t, 'after 3 names taken');
            $t->stop;
        }
        {
            local $ENV{SIGNALLER_SHIM_FAILS} = 1000;
            my $t = Signaller::Test->new(workers => 2)->require_module;
            $t->allow_log(qr/\[alert\].*signaller: no relay socket/);
            $t->run($SERVER);
            my @w = $t->worker_pids;
            is(scalar(@w), 2, 'no name at all: the workers run all the same');
            is(scalar($t->grep_log(qr/\[alert\].*no relay socket, this worker's listeners cannot pair with other workers' connectors/)),
                2, 'each says it cannot be reached');
            my ($l, $c) = $t->pair(layout => 'same');
            $l->send_text('same worker');
            msg_is($c, OP_TEXT, 'same worker', 'a pair in one worker relays');
            finish_pipe($l, $c, 'unreachable workers, one worker');
            my $lw = listener_on($t, $w[0]);
            is(connect_status($t, $lw->{handle}, not_worker => $w[0]), 503,
                "a connector on another worker: 503");
            my $again = $t->ws("/connect/$lw->{handle}", worker => $w[0]);
            is($again->status, 101, 'the listener still waits, and pairs in '
                . 'its worker');
            finish_pipe($lw, $again, 'after the 503');
            $t->stop;
        }
    }

    {
        # two instances in separate pid namespaces, one network namespace:
        # their workers have the same pids
        my @t = map { Signaller::Test->new(workers => 2)->require_module } 1, 2;
        $_->run($SERVER, wrap => ['unshare', '--pid', '--fork']) for @t;
        for my $i (0, 1) {
            my $ns = $t[$i]->client->probe_pid;
            ok(defined $ns && $ns < 10, "instance $i: workers in a pid namespace "
                . '(pid ' . ($ns // 'none') . ' there)');
            is(scalar(keys %{relay_names($t[$i])}), 2,
                "instance $i: both workers have a relay socket");
        }
        for my $round (1 .. 3) {
            crossing_pair_works($t[$_], "instance $_, pair $round") for 0, 1;
        }
        $_->stop for @t;
    }

    ### 4. a dead worker's pid and name, taken ###
    {
        my $t = Signaller::Test->new(workers => 2)->require_module;
        $t->allow_log(qr/\[alert\] \d+#\d+: worker process \d+ exited on signal 9$/);
        $t->run($SERVER);
        my ($v, $x) = $t->worker_pids;
        my ($uid, $gid) = workers_ids($v);
        my $name = relay_names($t)->{$v};
        my @lv = map { listener_on($t, $v) } 1, 2;
        is(status($t)->{signaller}{waiting}, 2, 'two listeners wait in ' . $v);

        # The other worker is stopped while the impostor takes the dead
        # worker's pid, so that no sweep runs before it has.
        kill 'STOP', $x;
        kill 'KILL', $v;
        my $deadline = time + scaled(5);
        sleep 0.01 while -e "/proc/$v" && time < $deadline;
        ok(!-e "/proc/$v", "worker $v is dead and reaped");

        pipe(my $r, my $w) or die "pipe: $!";
        my $log = $t->prefix . '/impostor.log';
        # Whatever forks right after the write gets the pid: on a busy
        # machine that may be another process, and the pid is lost.
        my $impostor;
        my $until = time + scaled(3);
        while (!$impostor && time < $until) {
            write_proc('/proc/sys/kernel/ns_last_pid', $v - 1) or last;
            my $pid = fork() // die "fork: $!";
            if ($pid == 0) {
                POSIX::_exit(0) if $$ != $v;
                close $r;
                POSIX::setgid($gid);
                POSIX::setuid($uid);
                socket(my $s, AF_UNIX, SOCK_STREAM, 0) or POSIX::_exit(1);
                bind($s, pack_sockaddr_un("\0$name")) or POSIX::_exit(2);
                listen($s, 16) or POSIX::_exit(3);
                socket(my $ls, AF_UNIX, SOCK_SEQPACKET, 0)
                    or POSIX::_exit(1);
                bind($ls, pack_sockaddr_un("\0$name/link"))
                    or POSIX::_exit(2);
                listen($ls, 16) or POSIX::_exit(3);
                syswrite($w, "ready\n");
                close $w;
                open my $out, '>>', $log or POSIX::_exit(4);
                $out->autoflush(1);
                my $sel = IO::Select->new($s, $ls);
                my $until = time + 10;
                while (time < $until) {
                    my ($ready) = $sel->can_read(0.2) or next;
                    accept(my $conn, $ready) or next;
                    my $got = '';
                    my $cs = IO::Select->new($conn);
                    my $t1 = time + 1;
                    while (time < $t1 && $cs->can_read($t1 - time)) {
                        my $n = sysread($conn, my $b, 4096);
                        last unless $n;
                        $got .= $b;
                    }
                    # an attacker would say yes to anything
                    syswrite($conn, 'y');
                    print $out 'connection, ' . length($got) . " bytes\n";
                    close $conn;
                }
                POSIX::_exit(0);
            }
            if ($pid == $v) {
                $impostor = $pid;
            } else {
                waitpid($pid, 0);
                sleep 0.005;
            }
        }
        close $w;
        if ($impostor) {
            is(<$r> // '', "ready\n", "a process of uid $uid took pid $v "
                . "and bound the dead worker's name $name");
        } else {
            diag("pid $v went to another process first: the rest runs "
                . 'as after a plain crash');
        }

        kill 'CONT', $x;
        for my $pid ($t->worker_pids) { kill 'CONT', $pid }

        # a connector for a dead listener's handle, on the live workers
        my $t1 = time;
        is(connect_status($t, $lv[0]{handle}), 404,
            'connector for a listener of the dead worker: 404');
        cmp_ok(time - $t1, '<', scaled(1.5), 'at once');

        my ($s, $secs) = wait_status($t, 'signaller',
            sub { $_[0]{waiting} == 0 }, 3);
        is($s->{waiting}, 0, sprintf('the dead worker\'s entries are purged '
            . 'although its pid lives (%.2f s)', $secs));
        is(connect_status($t, $lv[1]{handle}), 404, 'the other one: 404 too');

        if ($impostor) {
            kill 'TERM', $impostor;
            waitpid($impostor, 0);
        }
        my $seen = $t->read_file($log);
        unlike($seen, qr/[1-9]\d* bytes/, 'the impostor never got a byte')
            or diag($seen);
        note("impostor: " . ($seen eq '' ? 'no connection' : $seen));
        if ($seen ne '') {
            ok(scalar($t->grep_log(qr/relay socket of worker $v is held by pid $v, uid $uid/)),
                'the connector\'s worker said whose socket it found');
        }

        # a listener's worker that is stopped: the connector's socket waits
        # on the link until it runs again
        ok(scalar $t->wait_workers(2), 'the master replaced the dead worker');
        my ($p, $q) = $t->worker_pids;
        my $l = listener_on($t, $p);
        # a probe that landed on the stopped worker would wait: the
        # connector's connection is on $q first
        my $c = $t->client_on(worker => $q);
        kill 'STOP', $p;
        $c->handshake("/connect/$l->{handle}");
        is($c->status, 101, 'its worker stopped: the connector gets 101');
        $c->send_text('while stopped');
        no_frame($c, 0.5, 'and nothing else meanwhile');
        kill 'CONT', $p;
        msg_is($l, OP_TEXT, 'while stopped', 'once it runs, the pair relays');
        $c->send_text('after');
        msg_is($l, OP_TEXT, 'after', 'and goes on');
        finish_pipe($l, $c, 'after a worker that was stopped');

        $t->stop;
    }
}

diag(sprintf 'security.t: %.1f s', time - $T0) if $ENV{TEST_VERBOSE};
done_testing;
