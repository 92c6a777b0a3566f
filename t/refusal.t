#!/usr/bin/perl

# signaller_refusal (issue 11): with "close", a well-formed handshake that
# is refused for a reason the application can act on gets 101 and at once
# a close frame that says which: 4004 "No Such Handle", 4009 "Handle
# Taken", 4030 "Forbidden", 4029 "Too Many Requests" (a full zone).
# Malformed handshakes keep their HTTP status, and the default, "http",
# keeps the statuses (404, 409, 403, 503). With one worker and with two,
# the connector on the other worker than the handle's listener would be.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Signaller::Test;

my $CONF = <<'EOF';
server {
    %%LISTEN%%
    location / {
        signaller on;
        signaller_refusal close;
        signaller_origin "^https://good\.example$";
    }
    location /http/ {
        signaller on;
        signaller_origin "^https://good\.example$";
    }
    location /tiny/ {
        signaller on;
        signaller_refusal close;
        signaller_zone tiny 32k;
        signaller_origin any;
    }
}
EOF

my %GOOD = (origin => 'https://good.example');
my $t;

# A 101, then the close frame: the refusal, and the handshake's own check
# that the 101 answers this key.
sub refused_with {
    my ($c, $code, $reason, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    is($c->status, 101, "$name: 101") or return;
    is($c->header('Sec-WebSocket-Accept'), $c->expected_accept,
        "$name: Sec-WebSocket-Accept");
    close_is($c, $code, $reason, "$name: $code");
}

sub pairs_and_refusals {
    for my $layout ($t->layouts) {
        my $tag = "[" . $t->workers . " workers, $layout]";

        my $h = $t->handle;
        refused_with($t->ws("/connect/$h", %GOOD), 4004, 'No Such Handle',
            "$tag connect, nobody listening");

        my $l = $t->ws("/listen/$h", %GOOD, probe => 1);
        is($l->status, 101, "$tag a listener waits");
        refused_with($t->ws("/listen/$h", %GOOD,
                $t->layout_opts($layout, $l)),
            4009, 'Handle Taken', "$tag listen on a taken handle");

        refused_with($t->ws("/connect/$h", origin => 'https://evil.example',
                $t->layout_opts($layout, $l)),
            4030, 'Forbidden', "$tag origin refused");

        # refused peers take nothing: the listener still pairs
        my $c = $t->ws("/connect/$h", %GOOD, $t->layout_opts($layout, $l));
        is($c->status, 101, "$tag the listener still pairs");
        $c->send_text('after refusals');
        msg_is($l, OP_TEXT, 'after refusals', "$tag and relays");
        finish_pipe($l, $c, "$tag after refusals");
    }
}

sub the_rest {
    # a frame sent right behind the handshake is drained, not relayed or
    # answered: the refusal is the only thing the client is told
    {
        my $h = $t->handle;
        my $c = $t->client;
        $c->send_raw($c->request_bytes("/connect/$h", %GOOD)
            . Signaller::Test::Client::frame(opcode => OP_PING, payload => 'p'));
        $c->handshake("/connect/$h", raw => '');
        refused_with($c, 4004, 'No Such Handle',
            'a ping behind the refused handshake');
    }

    # malformed handshakes keep their HTTP statuses
    is($t->ws_status("/listen/" . $t->handle, %GOOD, version => 12), 426,
        'wrong version: 426');
    is($t->ws_status("/listen/" . $t->handle, %GOOD, key => 'short'), 400,
        'bad key: 400');
    is($t->ws_status("/listen/" . $t->handle, %GOOD, method => 'POST'), 405,
        'POST: 405');
    is($t->ws_status("/listen/Bad-Handle", %GOOD), 404, 'bad handle: 404');

    # the default keeps today's statuses
    {
        my $h = $t->handle;
        is($t->ws_status("/http/connect/$h", %GOOD), 404,
            'signaller_refusal http: 404');
        my $l = $t->ws("/http/listen/$h", %GOOD);
        is($t->ws_status("/http/listen/$h", %GOOD), 409, '... 409');
        is($t->ws_status("/http/connect/$h", origin => 'https://evil.example'),
            403, '... 403');
        close_listener($l, 'http location');
    }

    # a full zone: 4029
    {
        my @l;
        my $refused;
        for my $i (1 .. 2000) {
            my $c = $t->ws("/tiny/listen/" . $t->handle);
            if (($c->status // 0) == 101) {
                my $m = $c->read_message(0.05);
                if ($m && $m->{opcode} == OP_CLOSE) {
                    $refused = $m;
                    last;
                }
                push @l, $c;
                next;
            }
            last;
        }
        ok($refused, 'the tiny zone fills up after ' . scalar(@l)
            . ' listeners');
        is($refused->{code}, 4029, 'then /listen gets 4029') if $refused;
        is($refused->{reason}, 'Too Many Requests', 'with its reason')
            if $refused;
        ok(scalar($t->grep_log(qr/signaller zone "tiny" is full/)),
            'the error log names the zone');
        close_listener($_, 'tiny zone') for @l;
    }
}


for my $n (1, 2) {
    $t = Signaller::Test->new(workers => $n)->require_module;
    $t->run($CONF);
    pairs_and_refusals();
    the_rest();
    $t->stop;
}

# what nginx -t says
{
    $t = Signaller::Test->new->require_module;
    my $loc = sub {
        'server { listen 127.0.0.1:%%PORT%%; location / { signaller on; '
        . "$_[0] } }";
    };
    for my $ok ('http', 'close') {
        my ($rc, $out) = $t->test_config($loc->("signaller_refusal $ok;"));
        is($rc, 0, "signaller_refusal $ok is accepted") or diag($out);
    }
    for my $bad (['status', qr/invalid value "status"/],
        ['http close', qr/invalid number of arguments in "signaller_refusal"/],
        ['', qr/invalid number of arguments in "signaller_refusal"/])
    {
        my ($rc, $out) = $t->test_config($loc->("signaller_refusal "
            . "$bad->[0];"));
        isnt($rc, 0, "signaller_refusal '$bad->[0]' is refused");
        like($out, qr/\[emerg\].*$bad->[1]/, '... saying why') or diag($out);
    }
}

done_testing;
