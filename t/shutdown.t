#!/usr/bin/perl

# nginx shuts down: every peer (waiting or paired) gets 1001 "Going Away";
# nginx exits promptly and leaves no alert. Also: a reload keeps serving.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time sleep);
use Signaller::Test;

my $conf = <<'EOF2';
server {
    %%LISTEN%%
    location / {
        signaller on;
        signaller_listen_timeout 30s;
        signaller_pipe_timeout 30s;
    }
}
EOF2

for my $sig ('QUIT', 'TERM') {
    my $t = Signaller::Test->new->require_module;
    $t->run($conf);

    my @pairs = map { [$t->pair(layout => $_)] } $t->layouts;
    my $w = $t->ws('/listen/' . $t->handle);
    is($w->status, 101, "SIG$sig: waiting listener");
    $_->[0]->send_text('before') for @pairs;
    msg_is($_->[1], OP_TEXT, 'before', "SIG$sig: pipe works") for @pairs;

    my $t0 = time;
    kill $sig, $t->master_pid;
    close_is($w, 1001, 'Going Away', "SIG$sig: waiting listener gets 1001");
    for my $p (@pairs) {
        close_is($p->[0], 1001, 'Going Away', "SIG$sig: listener gets 1001");
        close_is($p->[1], 1001, 'Going Away', "SIG$sig: connector gets 1001");
    }
    $t->stop;
    my $dt = time - $t0;
    cmp_ok($dt, '<', scaled(5), "SIG$sig: nginx exited in $dt s");
}

# reload: new workers serve signaller locations
{
    my $t = Signaller::Test->new->require_module;
    $t->run($conf);
    my ($l, $c) = $t->pair;
    finish_pipe($l, $c, 'before reload');
    ok(scalar $t->reload, 'reload: new workers up');
    my ($l2, $c2) = $t->pair;
    $l2->send_text('after reload');
    msg_is($c2, OP_TEXT, 'after reload', 'pipe after reload');
    finish_pipe($l2, $c2, 'after reload');
    $t->stop;
}

done_testing;
