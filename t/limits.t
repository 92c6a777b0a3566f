#!/usr/bin/perl

# Per-peer and per-zone limits (issue 11): signaller_message_rate, a
# leaky bucket per peer like limit_req's (over it: 4008 "Rate Limited"
# to the sender, 4003 to its peer), and signaller_max_listeners per zone
# (a /listen beyond it: 503, or 4029 with signaller_refusal close).  With
# one worker and with two, pairs in one worker and across workers; and
# what nginx -t says of malformed values.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time sleep);
use Signaller::Test;

my $CONF = <<'EOF';
server {
    %%LISTEN%%
    location / {
        signaller on;
        signaller_message_rate 10r/s burst=3;
        signaller_max_messages 1000;
    }
    location /slow/ {
        signaller on;
        signaller_message_rate 60r/m;
        signaller_max_messages 1000;
    }
    location /few/ {
        signaller on;
        signaller_zone few 64k;
        signaller_max_listeners 3;
    }
    location /fewc/ {
        signaller on;
        signaller_zone few 64k;
        signaller_max_listeners 3;
        signaller_refusal close;
    }
}
EOF

sub run_with {
    my ($t) = @_;
    my $n = $t->workers;

    for my $layout ($t->layouts) {
        my $tag = "[$n, $layout]";

        # a burst of 3 over the rate is let through, the next one is not
        {
            my ($l, $c) = $t->pair(layout => $layout);
            $c->send_text("m$_") for 1 .. 5;
            msg_is($l, OP_TEXT, "m$_", "$tag message $_ of the burst relayed")
                for 1 .. 5;
            close_is($c, 4008, 'Rate Limited', "$tag the fifth: 4008");
            close_is($l, 4003, 'Peer Gone', "$tag its peer: 4003");
        }

        # at the rate, nothing is refused
        {
            my ($l, $c) = $t->pair(layout => $layout);
            for my $i (1 .. 8) {
                $l->send_binary("at rate $i");
                msg_is($c, OP_BINARY, "at rate $i", "$tag at the rate: $i");
                sleep 0.11;
            }
            finish_pipe($l, $c, "$tag at the rate");
        }

        # 60r/m without a burst: a second message within a second is over
        {
            my ($l, $c) = $t->pair(layout => $layout, base => '/slow');
            $l->send_text('one');
            $l->send_text('two');
            msg_is($c, OP_TEXT, 'one', "$tag 60r/m: the first");
            msg_is($c, OP_TEXT, 'two', "$tag 60r/m: the second relayed");
            close_is($l, 4008, 'Rate Limited', "$tag 60r/m: then 4008");
            close_is($c, 4003, 'Peer Gone', "$tag 60r/m: its peer 4003");
        }
    }

    # signaller_max_listeners 3, per zone (shared by /few/ and /fewc/)
    {
        my @l = map { $t->ws('/few/listen/' . $t->handle) } 1 .. 3;
        is(scalar(grep { $_->status == 101 } @l), 3, "[$n] 3 listeners");
        is($t->ws_status('/few/listen/' . $t->handle), 503,
            "[$n] the fourth: 503");
        my $c = $t->ws('/fewc/listen/' . $t->handle);
        is($c->status, 101, "[$n] with signaller_refusal close: 101");
        close_is($c, 4029, 'Too Many Requests', "[$n] ... and 4029");

        # connectors are not listeners
        my $h = $t->handle;
        close_listener($l[0], "[$n] one leaves");
        sleep 0.1;
        my $nl = $t->ws("/few/listen/$h");
        is($nl->status, 101, "[$n] then a listener may wait again");
        my $nc = $t->ws("/few/connect/$h");
        is($nc->status, 101, "[$n] and pair");
        finish_pipe($nl, $nc, "[$n] max_listeners");
        close_listener($_, "[$n] max_listeners") for @l[1, 2];
    }
}

for my $n (1, 2) {
    my $t = Signaller::Test->new(workers => $n)->require_module;
    $t->run($CONF);
    run_with($t);
    $t->stop;
}

{
    my $t = Signaller::Test->new->require_module;
    my $loc = sub {
        'server { listen 127.0.0.1:%%PORT%%; location / { signaller on; '
        . "$_[0] } }";
    };
    for my $ok ('signaller_message_rate 5r/s;',
        'signaller_message_rate 100r/m burst=50;',
        'signaller_max_listeners 10000;')
    {
        my ($rc, $out) = $t->test_config($loc->($ok));
        is($rc, 0, "accepted: $ok") or diag($out);
    }
    for my $bad (['signaller_message_rate 10;', qr/invalid rate "10"/],
        ['signaller_message_rate 10r/h;', qr/invalid rate "10r\/h"/],
        ['signaller_message_rate 0r/s;', qr/invalid rate "0r\/s"/],
        ['signaller_message_rate abc;', qr/invalid rate "abc"/],
        ['signaller_message_rate 10r/s burst=x;',
            qr/invalid parameter "burst=x"/],
        ['signaller_message_rate 10r/s nodelay;',
            qr/invalid parameter "nodelay"/],
        ['signaller_message_rate 1r/s; signaller_message_rate 2r/s;',
            qr/is duplicate/],
        ['signaller_max_listeners 0;', qr/value must be between 1 and/],
        ['signaller_max_listeners -1;', qr/signaller_max_listeners/],
        ['signaller_max_listeners many;', qr/signaller_max_listeners/])
    {
        my ($rc, $out) = $t->test_config($loc->($bad->[0]));
        isnt($rc, 0, "refused: $bad->[0]");
        like($out, qr/\[emerg\].*$bad->[1]/, "... says why") or diag($out);
    }
}

done_testing;
