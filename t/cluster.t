#!/usr/bin/perl

# Many nodes behind one name (issue 13): conf.example.cluster, as shipped,
# before two nodes that run its end section (the module, 2 workers each,
# signaller_secret). The front is plain nginx: it routes /listen/<h> and
# /connect/<h> by a consistent hash of the handle and passes the tokens
# on; the nodes check them.
#
#   1. 200 pairs through the front, a message each way: every handle's
#      listener and connector on one node (the nodes' access logs, and the
#      front's $upstream_addr), both nodes used.
#   2. A node stops (SIGQUIT) with a pair and a listener on each node: its
#      own get 1001 through the front; the survivor's go on.
#   3. After the stop: the survivor's handles are served as before (never
#      routed to the stopped node), the stopped node's handles pair on the
#      survivor, the next node on the ring; exactly max_fails (3) handshakes
#      tried the stopped node before the front skipped it.
#   4. The node comes back: after fail_timeout its handles go home again,
#      and a listener that was waiting on the stand-in is not found by its
#      connector, now sent home (404): the trade-off the file describes.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Digest::SHA qw(hmac_sha256);
use MIME::Base64 qw(encode_base64url);
use Test::More;
use Time::HiRes qw(time sleep);
use Signaller::Test;
use Signaller::Workers qw(utf8_bytes rand_bytes);

my $PAIRS = $ENV{SIGNALLER_PAIRS} // 200;
my $FILE = "$FindBin::Bin/../conf.example.cluster";
my $SECRET = 'cluster-' . unpack('H*', rand_bytes(12));
my $t_start = time;

open my $fh, '<', $FILE or BAIL_OUT("$FILE: $!");
my $shipped = do { local $/; <$fh> };
close $fh;

# A substitution that must apply: a changed file fails here, not later.
sub subst {
    my ($text, $re, $by, $what) = @_;
    my $n = $text =~ s/$re/ref $by ? $by->() : $by/ge;
    BAIL_OUT("conf.example.cluster: no $what") unless $n;
    return $text;
}

### the nodes: the file's end section, its http{} body ###

my ($node_block) = $shipped =~ /^#     http \{\n(.*?)^#     \}\n/ms
    or BAIL_OUT('conf.example.cluster: no node section');
(my $node_http = $node_block) =~ s/^#(?: {5}|$)//mg;
$node_http = subst($node_http, qr/^\s*listen 8080;$/m, '    %%LISTEN%%',
    'listen 8080 on the nodes');
$node_http = subst($node_http, qr{file=/etc/nginx/signaller\.secret},
    'file=%%PREFIX%%/signaller.secret', 'signaller_secret file=');
$node_http = subst($node_http, qr{set_real_ip_from 10\.0\.0\.0/24;},
    'set_real_ip_from 127.0.0.1;', 'set_real_ip_from');

my @nodes = map { Signaller::Test->new(workers => 2)->require_module } 1, 2;
for my $n (@nodes) {
    $n->write_file('signaller.secret', "$SECRET\n");
    $n->run($node_http);
}
my @nport = map { $_->port } @nodes;
my %node_of_port = map { ($nport[$_] => $_) } 0 .. $#nodes;

### the front: the whole file ###

my $front = Signaller::Test->new(workers => 2);
my $fp = $front->prefix;
mkdir "$fp/temp";

# file paths into the test's prefix (and nginx's temporary directories
# there, not in /var/lib/nginx)
sub paths {
    my ($text) = @_;
    $text = subst($text, qr{/var/log/nginx/}, "$fp/", 'log paths');
    $text = subst($text, qr{^pid /run/nginx\.pid;$}m, "pid $fp/nginx.pid;",
        'pid');
    $text = subst($text, qr/^http \{\n/m, sub {
        "http {\n" . join '', map { "    ${_}_temp_path $fp/temp/$_;\n" }
            qw(client_body proxy fastcgi uwsgi scgi) }, 'http {');
    return $text;
}

my ($rc, $out) = $front->test_config(paths($shipped), full => 1);
is($rc, 0, 'nginx -t accepts conf.example.cluster as written (its paths '
    . 'aside)') or diag($out);

my $front_conf = "daemon off;\n" . paths($shipped);
$front_conf = subst($front_conf, qr/^worker_processes auto;$/m,
    'worker_processes 2;', 'worker_processes auto');
$front_conf = subst($front_conf, qr/^(\s*)listen 80;$/m,
    sub { "$1listen 127.0.0.1:" . $front->port . ';' }, 'listen 80');
# the upstream's servers: the test's nodes, with the file's parameters
my ($params) = $shipped =~ /^\s*server 10\.0\.0\.11:8080( [^;]*)?;$/m
    or BAIL_OUT('conf.example.cluster: no server 10.0.0.11:8080');
$params //= '';
$front_conf = subst($front_conf,
    qr/^(\s*)server 10\.0\.0\.11:8080[^;]*;\n(?:\s*server 10\.0\.0\.\d+:8080[^;]*;\n)*/m,
    sub { my $i = $1; join '', map { "${i}server 127.0.0.1:$_$params;\n" }
        @nport }, 'upstream servers');
$front->run($front_conf, full => 1);
my ($max_fails) = $params =~ /max_fails=(\d+)/;
my ($fail_timeout) = $params =~ /fail_timeout=(\d+)s/;
ok($max_fails && $fail_timeout, "the file's servers: max_fails=$max_fails "
    . "fail_timeout=${fail_timeout}s");

### helpers ###

my @macs;
sub token {
    my ($role, $h) = @_;
    my $exp = int(time) + 600;
    my $mac = encode_base64url(hmac_sha256("$role:$h:$exp", $SECRET));
    push @macs, $mac;
    return "$exp.$mac";
}
sub path { "/signal/$_[0]/$_[1]?token=" . token(@_[0, 1]) }

# Front log entries: {request, handle, role, status, upstream => [ports]}
sub front_log {
    my @r;
    for (split /\n/, $front->read_file('signaller-front.log')) {
        my ($uri, $status, $up) =
            m{^\S+ \[[^\]]+\] "\S+ (\S+) \S+" (\d+) \S+ "([^"]*)"$}
            or next;
        my %e = (uri => $uri, status => $status);
        @e{qw(role handle)} = ($1, $2) if $uri =~ m{/(listen|connect)/([^/]+)$};
        $e{upstream} = [map { /:(\d+)$/ ? $1 : $_ } split /, /, $up];
        push @r, \%e;
    }
    return @r;
}

# node index => { handle => { listen => n, connect => n } }, from its 101
# lines after the first $from
sub node_sessions {
    my ($i, $from) = @_;
    my @log = $nodes[$i]->access_log;
    my %s;
    for my $e (@log[($from // 0) .. $#log]) {
        next unless $e->{status} == 101
            && $e->{request} =~ m{/(listen|connect)/([^/?\s]+)};
        $s{$2}{$1}++;
    }
    return \%s;
}

# wait until $cond->() is true (log lines come when sessions end)
sub wait_for {
    my ($cond, $secs) = @_;
    my $until = time + scaled($secs // 3);
    until ($cond->()) {
        return 0 if time > $until;
        sleep 0.05;
    }
    return 1;
}

# a listener and then a connector through the front, a message each way;
# returns (listener, connector) or dies unless both got 101
sub fpair {
    my ($h, $name) = @_;
    my $l = $front->ws(path('listen', $h));
    die "$name: listen $h: " . ($l->status // 'none') . "\n"
        unless ($l->status // 0) == 101;
    my $c = $front->ws(path('connect', $h));
    die "$name: connect $h: " . ($c->status // 'none') . "\n"
        unless ($c->status // 0) == 101;
    relays($l, $c, $name);
    return ($l, $c);
}

sub relays {
    my ($l, $c, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $b = rand_bytes(1 + int rand 3000);
    $c->send_binary($b);
    msg_is($l, OP_BINARY, $b, "$name: connector to listener");
    my $s = utf8_bytes("answer \x{263a} " . int rand 1e6);
    $l->send_text($s);
    msg_is($c, OP_TEXT, $s, "$name: listener to connector");
}

### 1. many pairs through the front ###

my $mux = Signaller::Workers::Mux->new;
my @h = map { $front->handle } 1 .. $PAIRS;
my $t1 = time;
my @l = $mux->open($front, [map { path('listen', $_) } @h]);
is(scalar(grep { ($_->{status} // 0) == 101 } @l), $PAIRS,
    "$PAIRS listeners through the front: 101");
my @c = $mux->open($front, [map { path('connect', $_) } @h]);
is(scalar(grep { ($_->{status} // 0) == 101 } @c), $PAIRS,
    "$PAIRS connectors through the front: 101");

my (@to_l, @to_c);
for my $i (0 .. $#h) {
    $to_l[$i] = rand_bytes(1 + ($i * 37) % 2000);
    $to_c[$i] = utf8_bytes("pair $i \x{e9}t\x{e9} " . ('x' x ($i % 200)));
    $mux->queue($c[$i], binary => $to_l[$i]);
    $mux->queue($l[$i], text => $to_c[$i]);
}
$mux->pump(sub { !grep { !@{$_->{msgs}} && !$_->{eof} } @l, @c }, 10);
my @bad;
for my $i (0 .. $#h) {
    my ($ml, $mc) = ($l[$i]{msgs}[0], $c[$i]{msgs}[0]);
    push @bad, "pair $i ($h[$i]): listener got "
        . ($ml ? "opcode $ml->{opcode}, " . length($ml->{payload}) . ' bytes'
            : 'nothing')
        unless $ml && $ml->{opcode} == 2 && $ml->{payload} eq $to_l[$i];
    push @bad, "pair $i ($h[$i]): connector got "
        . ($mc ? "opcode $mc->{opcode}, " . length($mc->{payload}) . ' bytes'
            : 'nothing')
        unless $mc && $mc->{opcode} == 1 && $mc->{payload} eq $to_c[$i];
    push @bad, "pair $i: " . (@{$_->{msgs}} - 1) . ' extra messages'
        for grep { @{$_->{msgs}} > 1 } $l[$i], $c[$i];
}
ok(!@bad, "$PAIRS pairs: a message each way, exact bytes and type");
diag(join "\n", @bad[0 .. ($#bad < 9 ? $#bad : 9)]) if @bad;

$mux->queue($_, close => [1000]) for @l;
$mux->pump(sub { !grep { !$_->{close} && !$_->{eof} } @l, @c }, 10);
is(scalar(grep { ($_->{close}{code} // 0) == 1000
    && $_->{close}{reason} eq 'Normal Closure' } @l, @c), 2 * $PAIRS,
    'the listeners close with 1000: both peers get 1000 Normal Closure');
$mux->queue($_, close => [1000]) for @c;
$mux->pump(sub { !grep { !$_->{eof} } @l, @c }, 10);
is(scalar(grep { $_->{eof} } @l, @c), 2 * $PAIRS,
    'every connection closed through the front');
$_->close for @l, @c;
diag(sprintf 'cluster.t: %d pairs through the front in %.2f s', $PAIRS,
    time - $t1);

# where each handle went, from the nodes' own logs
my %home;
my @s;
wait_for(sub {
    @s = map { node_sessions($_) } 0 .. $#nodes;
    my $n = 0;
    for my $x (@s) { $n += ($_->{listen} // 0) + ($_->{connect} // 0)
        for values %$x }
    return $n >= 2 * $PAIRS;
}, 5);
my (@split, @wrong) = (0) x @nodes;
for my $h (@h) {
    my @on = grep { $s[$_]{$h} } 0 .. $#nodes;
    if (@on == 1 && ($s[$on[0]]{$h}{listen} // 0) == 1
        && ($s[$on[0]]{$h}{connect} // 0) == 1)
    {
        $home{$h} = $on[0];
        $split[$on[0]]++;
    } else {
        push @wrong, "$h: " . join(', ', map { my $x = $s[$_]{$h};
            "node $_: listen " . ($x->{listen} // 0) . ' connect '
            . ($x->{connect} // 0) } @on);
    }
}
ok(!@wrong, "every handle's listener and connector on one node (the "
    . "nodes' access logs)");
diag(join "\n", @wrong[0 .. ($#wrong < 9 ? $#wrong : 9)]) if @wrong;
diag("cluster.t: handles per node: @split");
cmp_ok($_, '>=', $PAIRS / 5, "node carried its share ($_ of $PAIRS pairs)")
    for @split;

# the front says the same: one node per handle, the one whose log has it
my @flog;
wait_for(sub { @flog = grep { $_->{handle} } front_log(); @flog >= 2 * $PAIRS });
my %in_phase1 = map { $_ => 1 } @h;
my @disagree = map { "$_->{role} $_->{handle}: upstream "
        . join(', ', @{$_->{upstream}}) }
    grep { $in_phase1{$_->{handle}} && !($_->{status} == 101
        && @{$_->{upstream}} == 1
        && ($node_of_port{$_->{upstream}[0]} // -1) == $home{$_->{handle}}) }
    @flog;
is(scalar(grep { $in_phase1{$_->{handle}} } @flog), 2 * $PAIRS,
    "front's access log: a line per handshake");
ok(!@disagree, "front's \$upstream_addr: each handshake went to the "
    . "handle's node, first time");
diag(join "\n", @disagree[0 .. ($#disagree < 9 ? $#disagree : 9)])
    if @disagree;

# tokens went through the front untouched, and stayed out of its log; the
# nodes check them
my $flog_text = $front->read_file('signaller-front.log');
ok(!grep({ index($flog_text, $_) >= 0 } @macs), "no token in the front's "
    . 'access log (' . scalar(@macs) . ' sent)');
my $hx = $front->handle;
is($front->ws_status("/signal/listen/$hx"), 403,
    'no token: the node refuses (403 through the front)');
is($front->ws_status("/signal/listen/$hx?token=" . token('connect', $hx)),
    403, 'a connect token to listen: 403');
# the same-origin rule on the node, with the client's Host passed on
my $origin = 'http://127.0.0.1:' . $front->port;
is($front->ws_status(path('listen', $hx), origin => $origin), 101,
    "Origin $origin, the front's own: 101 (the node sees the client's Host)");
is($front->ws_status(path('listen', $hx), origin => 'http://evil.example'),
    403, 'another origin: 403');

### 2. a node stops ###

my @by_node = map { my $n = $_; [grep { $home{$_} == $n } @h] } 0 .. 1;
my ($A, $B) = (0, 1);    # A stops, B survives
my @hA = @{$by_node[$A]};
my @hB = @{$by_node[$B]};

my ($pa_l, $pa_c) = fpair(shift @hA, 'pair on the node that stops');
my ($pb_l, $pb_c) = fpair(shift @hB, 'pair on the survivor');
my $hla = shift @hA;
my $la = $front->ws(path('listen', $hla));
is($la->status, 101, 'a listener waiting on the node that stops');
my $hlb = shift @hB;
my $lb = $front->ws(path('listen', $hlb));
is($lb->status, 101, 'a listener waiting on the survivor');

my $flog_mark = () = front_log();
my $t_stop = time;
$nodes[$A]->stop;    # SIGQUIT, waits for the master to exit
diag(sprintf 'cluster.t: node %d stopped in %.2f s', $A, time - $t_stop);
my $down_at = time;

close_is($pa_l, 1001, 'Going Away', "the stopped node's pair: listener "
    . 'gets 1001 through the front');
close_is($pa_c, 1001, 'Going Away', "the stopped node's pair: connector "
    . 'gets 1001');
close_is($la, 1001, 'Going Away', "the stopped node's waiting listener "
    . 'gets 1001');

relays($pb_l, $pb_c, "the survivor's pair, open during the stop, relays on");
my $lbc = $front->ws(path('connect', $hlb));
is($lbc->status, 101, "the survivor's waiting listener: a connector after "
    . 'the stop finds it');
relays($lb, $lbc, "the survivor's waiting listener, paired after the stop");
finish_pipe($pb_l, $pb_c, "the survivor's pair");
finish_pipe($lb, $lbc, "the survivor's later pair");

### 3. after the stop ###

# one by one, so that the front's count of failures is exact: the first
# max_fails handshakes for the stopped node's handles try it, are refused
# and go on to the survivor; then the front skips it for fail_timeout
my @seq = splice @hA, 0, 3;
for my $h (@seq) {
    my ($l, $c) = fpair($h, "the stopped node's handle $h, on the survivor");
    finish_pipe($l, $c, "the stopped node's handle $h");
}

# then many at once, both nodes' handles
# (40 of each, or fewer with a small SIGNALLER_PAIRS: part 4 needs three
# more of the stopped node's handles and one of the survivor's)
my ($N3) = sort { $a <=> $b } 40, @hA - 3, @hB - 1;
BAIL_OUT("too few handles per node for the rest: $N3") if $N3 < 1;
my @h3 = ((splice @hA, 0, $N3), (splice @hB, 0, $N3));
my %h3A = map { $_ => 1 } @h3[0 .. $N3 - 1];
$mux = Signaller::Workers::Mux->new;
@l = $mux->open($front, [map { path('listen', $_) } @h3]);
@c = $mux->open($front, [map { path('connect', $_) } @h3]);
is(scalar(grep { ($_->{status} // 0) == 101 } @l, @c), 2 * @h3,
    scalar(@h3) . ' pairs after the stop, half of them the stopped '
    . "node's: 101");
$mux->queue($c[$_], binary => "c$_") for 0 .. $#h3;
$mux->queue($l[$_], text => "l$_") for 0 .. $#h3;
$mux->pump(sub { !grep { !@{$_->{msgs}} && !$_->{eof} } @l, @c }, 10);
is(scalar(grep { ($l[$_]{msgs}[0]{payload} // '') eq "c$_"
    && ($c[$_]{msgs}[0]{payload} // '') eq "l$_" } 0 .. $#h3), scalar @h3,
    '... and relay both ways');
$mux->queue($_, close => [1000]) for @l;
$mux->pump(sub { !grep { !$_->{close} && !$_->{eof} } @c }, 5);
$mux->queue($_, close => [1000]) for @c;
$mux->pump(sub { !grep { !$_->{eof} } @l, @c }, 5);
$_->close for @l, @c;
my $phase3 = time - $down_at;

# the survivor's log: every one of them there, both roles
my @after = (@seq, @h3);
my $sB;
wait_for(sub {
    $sB = node_sessions($B);
    !grep { ($sB->{$_}{listen} // 0) < 1 || ($sB->{$_}{connect} // 0) < 1 }
        @after;
});
is(scalar(grep { ($sB->{$_}{listen} // 0) >= 1
    && ($sB->{$_}{connect} // 0) >= 1 } @after), scalar @after,
    "the survivor's access log: both peers of every pair after the stop");

my @f3;
wait_for(sub {
    my %want = map { $_ => 1 } @after;
    my @f = front_log();
    @f3 = grep { $_->{handle} && $want{$_->{handle}} }
        @f[$flog_mark .. $#f];
    @f3 >= 2 * @after;
});
is(scalar @f3, 2 * @after, "front's access log: a line per handshake "
    . 'after the stop');
my ($tried_A, @odd) = (0);
my %is_A = map { $_ => 1 } @seq, grep { $h3A{$_} } @h3;
for my $e (@f3) {
    my @u = @{$e->{upstream}};
    my $h = $e->{handle};
    push @odd, "$e->{role} $h: status $e->{status}" if $e->{status} != 101;
    if ($is_A{$h} && @u == 2 && $u[0] == $nport[$A] && $u[1] == $nport[$B]) {
        $tried_A++;
    } elsif (!(@u == 1 && $u[0] == $nport[$B])) {
        push @odd, "$e->{role} $h (the "
            . ($is_A{$h} ? "stopped node's" : "survivor's") . "): @u";
    }
}
ok(!@odd, "after the stop: the survivor's handles went to it alone, the "
    . "stopped node's to the survivor");
diag(join "\n", @odd[0 .. ($#odd < 9 ? $#odd : 9)]) if @odd;
if ($phase3 < $fail_timeout) {
    is($tried_A, $max_fails, "exactly max_fails ($max_fails) handshakes "
        . 'tried the stopped node first, then the front skipped it');
} else {
    cmp_ok($tried_A, '>=', $max_fails, "at least max_fails handshakes tried "
        . "the stopped node (slow run: ${phase3}s)");
}
my @refused = $front->grep_log(qr/\[error\].*connect\(\) failed \(111: /);
is(scalar @refused, $tried_A, "front's error log: a refused connect per "
    . 'handshake that tried it');
my $disabled = () = $front->grep_log(
    qr/\[warn\].*upstream server temporarily disabled/);
if ($phase3 < $fail_timeout) {
    is($disabled, 1, "front's error log: the node taken out once");
} else {
    cmp_ok($disabled, '>=', 1, "front's error log: the node taken out");
}

### 4. the node comes back ###

# while it is down, a listener for one of its handles waits on the survivor,
# and one for a survivor's handle waits there too
my $hx_a = shift @hA;
my $lx = $front->ws(path('listen', $hx_a));
is($lx->status, 101, "a listener for the stopped node's handle, while it "
    . 'is down (on the survivor)');
my $hy_b = shift @hB;
my $ly = $front->ws(path('listen', $hy_b));
is($ly->status, 101, "a listener for a survivor's handle");

my $amark = () = $nodes[$A]->access_log;
$nodes[$A]->run($node_http);

# the front tries the node again fail_timeout after its last failure; a
# listener for one of its handles lands there then
my $probe = shift @hA;
my ($probes, $probe_bad) = (0, 0);
my $home_again = wait_for(sub {
    $probes++;
    $probe_bad++ if $front->ws_status(path('listen', $probe)) != 101;
    return 1 if wait_for(sub {
        (node_sessions($A, $amark)->{$probe}{listen} // 0) >= 1 }, 0.25);
    return 0;
}, $fail_timeout + 10);
ok($home_again, sprintf "the front sends the node's handles home again "
    . '%.1f s after the stop (fail_timeout %ds; %d probe listeners)',
    time - $down_at, $fail_timeout, $probes);
is($probe_bad, 0, 'every probe listener got 101 (on the stand-in, then home)');

my $cx = $front->ws(path('connect', $hx_a));
is($cx->status, 404, "the stand-in's listener is not found: its connector "
    . 'goes home and gets 404');
$cx->close;
no_frame($lx, 0.3, '... while the listener waits on the survivor');

my $hh = shift @hA;
my ($al, $ac) = fpair($hh, 'a pair of its handles, back home');
finish_pipe($al, $ac, 'a pair back home');

my $cy = $front->ws(path('connect', $hy_b));
is($cy->status, 101, "the survivor's listener, opened while the node was "
    . 'down, pairs after its return');
relays($ly, $cy, "the survivor's listener, after the return");
finish_pipe($ly, $cy, "the survivor's pair after the return");

close_listener($lx, "the stand-in's listener");
my ($sA, $sB2);
wait_for(sub {
    $sA = node_sessions($A, $amark);
    $sB2 = node_sessions($B);
    ($sB2->{$hx_a}{listen} // 0) >= 1 && ($sA->{$hh}{connect} // 0) >= 1;
});
is($sB2->{$hx_a}{listen} // 0, 1, "the stand-in's listener was on the "
    . 'survivor');
is_deeply([sort keys %$sA], [sort $probe, $hh], 'the node back: only the '
    . 'probe listener and the pair back home, not the stand-in\'s handle');
is_deeply($sA->{$hh}, { listen => 1, connect => 1 },
    '... the pair back home: both peers there');

$front->stop;
$_->stop for @nodes;
diag(sprintf 'cluster.t: %.1f s', time - $t_start);
done_testing;
