#!/usr/bin/perl

# Reload and worker crash (issue 3): waiting listeners and pipes survive a
# reload; a killed worker's listeners are purged. A crossed pipe whose
# connector's socket was handed over to the listener's worker lives there:
# the death of the connector's first worker leaves it relaying, the
# listener's worker's drops both peers; the other peer of a spliced pipe
# (a frame behind the connector's request) gets 4003. Runs with at least 2
# workers.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time sleep);
use Signaller::Test;

my $w = $ENV{SIGNALLER_WORKERS} // 2;
$w = 2 if $w < 2;
my $t = Signaller::Test->new(workers => $w)->require_module;
$t->allow_log(qr/worker process \d+ exited on signal 9/);
$t->run(<<'EOF');
server {
    %%LISTEN%%
    location / {
        signaller on;
        signaller_listen_timeout 20s;
        signaller_pipe_timeout 30s;
    }
}
EOF

### reload ###
{
    my $hw = $t->handle;
    my $lw = $t->ws("/listen/$hw", probe => 1);
    is($lw->status, 101, 'waiting listener before reload');
    my %pipes = map { $_ => [$t->pair(layout => $_)] } $t->layouts;
    my @old = $t->worker_pids;

    ok(scalar $t->reload, 'reload: new workers up');
    my %old = map { $_ => 1 } @old;
    ok(!grep({ $old{$_} } $t->worker_pids), 'reload: all workers replaced');

    is($t->ws("/listen/$hw")->status, 409,
        'waiting listener still in the table after reload');
    $lw->send_text('held across reload');
    my $cw = $t->ws("/connect/$hw");
    is($cw->status, 101, 'connector on a new worker pairs with an old one');
    msg_is($cw, OP_TEXT, 'held across reload', 'old listener -> new connector');
    $cw->send_binary('back');
    msg_is($lw, OP_BINARY, 'back', 'new connector -> old listener');
    finish_pipe($lw, $cw, 'across reload');

    for my $layout (sort keys %pipes) {
        my ($l, $c) = @{$pipes{$layout}};
        $l->send_text('after reload');
        msg_is($c, OP_TEXT, 'after reload', "[$layout] pipe relays after reload");
        $c->send_text('reply');
        msg_is($l, OP_TEXT, 'reply', "[$layout] pipe relays back");
        finish_pipe($l, $c, "[$layout] pipe across reload");
    }

    my $deadline = time + 5;
    sleep 0.05 while time < $deadline && grep { $old{$_} }
        $t->all_worker_pids;
    ok(!grep({ $old{$_} } $t->all_worker_pids),
        'old workers exit once their sessions end');

    my ($l, $c) = $t->pair;
    $l->send_text('fresh');
    msg_is($c, OP_TEXT, 'fresh', 'new pipe after reload');
    finish_pipe($l, $c, 'after reload');
}

### kill -9 of a worker ###

# a waiting listener's worker dies: its handle is purged
{
    my $h = $t->handle;
    my $l = $t->ws("/listen/$h", probe => 1);
    is($l->status, 101, 'listener on worker ' . $l->pid);
    kill 'KILL', $l->pid;
    ok($l->wait_eof(2), 'killed worker: listener connection gone');
    sleep 1;
    my $t0 = time;
    my $c = $t->ws("/connect/$h", timeout => 3);
    is($c->status, 404, 'connect to a dead worker\'s handle: 404');
    cmp_ok(time - $t0, '<', scaled(2), 'no hang');
    my $l2 = $t->ws("/listen/$h");
    is($l2->status, 101, 'dead worker\'s handle free for a new listener');
    close_listener($l2, 'after kill');
}

# on the next lookup, without waiting
{
    my $h = $t->handle;
    my $l = $t->ws("/listen/$h", probe => 1);
    kill 'KILL', $l->pid;
    $l->wait_eof(2);
    my $c = $t->ws("/connect/$h", timeout => 3);
    is($c->status, 404, 'connect right after the kill: 404');
}

# a crossed pipe, handed over: it is the listener's worker's; spliced:
# the surviving peer gets 4003
for my $side ('listener', 'connector') {
    ok(scalar $t->wait_workers($w), 'all workers up');
    my ($l, $c) = $t->pair(layout => 'cross');
    my ($dead, $live) = $side eq 'listener' ? ($l, $c) : ($c, $l);
    isnt($l->pid, $c->pid, "handed over: pipe crosses workers ($side side "
        . 'dies)');
    # a message relayed shows the socket is in the listener's worker: the
    # 101 goes out a moment before the socket does
    $l->send_text('first');
    msg_is($c, OP_TEXT, 'first', "handed over: relays before the kill");
    kill 'KILL', $dead->pid;
    if ($side eq 'listener') {
        my $m = $c->read_message(3);
        ok($m && $m->{eof}, 'handed over: worker of the listener killed: '
            . 'the connector is dropped too, no close frame');
    } else {
        $l->send_text('on');
        msg_is($c, OP_TEXT, 'on', 'handed over: worker of the connector '
            . 'killed: the pipe relays');
        $c->send_text('and on');
        msg_is($l, OP_TEXT, 'and on', '... both ways');
        finish_pipe($l, $c, 'handed over, connector side killed');
    }
    ok(scalar $t->wait_workers($w), 'the killed worker replaced');
    ($l, $c) = $t->pair(layout => 'cross', connector_opts => { pipeline =>
        Signaller::Test::Client::frame(payload => 'behind') });
    ($dead, $live) = $side eq 'listener' ? ($l, $c) : ($c, $l);
    isnt($l->pid, $c->pid, "spliced: pipe crosses workers ($side side dies)");
    msg_is($l, OP_TEXT, 'behind', 'spliced: the frame behind the request');
    kill 'KILL', $dead->pid;
    close_is($live, 4003, 'Peer Gone',
        "spliced: worker of the $side killed: other peer gets 4003",
        timeout => 3);
}

# the server keeps working afterwards
for my $layout ($t->layouts) {
    my ($l, $c) = $t->pair(layout => $layout);
    $c->send_text('alive');
    msg_is($l, OP_TEXT, 'alive', "[$layout] pipes work after the kills");
    finish_pipe($l, $c, "[$layout] after kills");
}

$t->stop;
done_testing;
