#!/usr/bin/perl

# Session logs (issue 11): the $signaller_* variables in log_format, and
# when the line is written.  By default (signaller_log_at end) a
# session's line is written when it ends, with its final figures and
# $request_time its length, although its request was freed at the
# handshake; with "signaller_log_at handshake", at the handshake, as
# before.  Pairs in one worker and across workers, with 1 and 2 workers;
# a session that keeps its request (limit_conn); a refused one; a peer
# dropped for not answering pings.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time sleep);
use Signaller::Test;

my $CONF = <<'EOF';
log_format sig '$signaller_role|$signaller_handle|$status|$request_time|'
               '$signaller_close_code|$signaller_close_reason|'
               '$signaller_messages_in|$signaller_messages_out|'
               '$signaller_bytes_in|$signaller_bytes_out|'
               '$signaller_wait_time|$signaller_crossed|$http_user_agent|'
               '$request';
limit_conn_zone $binary_remote_addr zone=addr:1m;
server {
    %%LISTEN%%
    access_log %%PREFIX%%/sig.log sig;
    location / {
        signaller on;
    }
    location /hs/ {
        signaller on;
        signaller_log_at handshake;
    }
    location /kept/ {
        signaller on;
        limit_conn addr 100;
    }
    location /r/ {
        signaller on;
        signaller_refusal close;
    }
    location /p/ {
        signaller on;
        signaller_ping_interval 200ms;
    }
}
EOF

my $t;

# The lines of sig.log for a handle: role => {field => value}; waits up to
# 3 s for $n of them.
sub lines_for {
    my ($h, $n) = @_;
    my @f = qw(role handle status request_time code reason in out
        bytes_in bytes_out wait crossed ua request);
    my $until = time + scaled(3);
    my @lines;
    while (1) {
        @lines = grep { (split /\|/)[1] eq $h }
            split /\n/, $t->read_file('sig.log');
        last if @lines >= $n || time > $until;
        sleep 0.05;
    }
    my %by;
    for (@lines) {
        my %e;
        @e{@f} = split /\|/, $_, scalar @f;
        $by{$e{role}} = \%e;
    }
    return \%by;
}

sub run_with {
    my $n = $t->workers;

    for my $layout ($t->layouts) {
        my $tag = "[$n, $layout]";
        my ($l, $c) = $t->pair(layout => $layout,
            listener_opts => { headers => [['User-Agent', 'listener/1.0']] },
            before => sub { sleep 0.3 });
        $l->send_text('hello');                # 11 bytes
        msg_is($c, OP_TEXT, 'hello', "$tag relayed");
        $c->send_binary('x' x 200);            # 208 bytes
        msg_is($l, OP_BINARY, 'x' x 200, "$tag relayed back");
        $c->send_text('y');                    # 7 bytes
        msg_is($l, OP_TEXT, 'y', "$tag and again");

        my $h = $l->{handle};
        is(scalar(keys %{lines_for($h, 0)}), 0,
            "$tag nothing logged while the pair is open");
        sleep 0.3;
        finish_pipe($l, $c, $tag);

        my $by = lines_for($h, 2);
        my ($le, $ce) = @$by{qw(listen connect)};
        ok($le && $ce, "$tag a line for each peer, at the end") or next;

        is($le->{status}, 101, "$tag status 101");
        cmp_ok($le->{request_time}, '>=', 0.5,
            "$tag \$request_time is the session's length "
            . "($le->{request_time})");
        cmp_ok($le->{wait}, '>=', 0.3, "$tag the listener waited "
            . "($le->{wait} s)");
        cmp_ok($le->{wait}, '<', $le->{request_time}, "$tag less than its "
            . 'session');
        cmp_ok($ce->{wait}, '<', 0.1, "$tag a connector pairs at once");
        is($le->{code}, 1000, "$tag the listener was sent 1000");
        is($le->{reason}, 'Normal Closure', "$tag with its reason");
        is($ce->{code}, 1000, "$tag and the connector too");
        is($le->{in}, 1, "$tag listener sent 1 message");
        is($le->{out}, 2, "$tag and received 2");
        is($ce->{in}, 2, "$tag connector sent 2");
        is($ce->{out}, 1, "$tag and received 1");
        # frames read: messages plus the client's close (2 + 4 + 2 bytes)
        is($le->{bytes_in}, 11 + 8, "$tag listener's bytes in");
        is($ce->{bytes_in}, 208 + 7 + 8, "$tag connector's bytes in");
        # frames sent: unmasked, plus the close (2 + 2 + 14 bytes)
        is($le->{bytes_out}, 204 + 3 + 18, "$tag listener's bytes out");
        is($ce->{bytes_out}, 7 + 18, "$tag connector's bytes out");
        is($le->{crossed}, $layout eq 'cross' ? 1 : 0, "$tag crossed");
        is($ce->{crossed}, $layout eq 'cross' ? 1 : 0, "$tag for both");
        is($le->{ua}, 'listener/1.0', "$tag request headers are there");
        like($le->{request}, qr{^GET /listen/\Q$h\E HTTP/1\.1$},
            "$tag and the request line");
    }

    # signaller_log_at handshake: the line at once, with the figures then
    {
        my $h = $t->handle;
        my $l = $t->ws("/hs/listen/$h");
        my $e = lines_for($h, 1)->{listen};
        ok($e, "[$n] handshake: logged while the listener waits");
        is($e->{code}, '-', "[$n] handshake: no close code yet") if $e;
        close_listener($l, "[$n] handshake");
    }

    # a request another module holds (limit_conn) is logged at the end too
    {
        my ($l, $c) = $t->pair(base => '/kept');
        my $h = $l->{handle};
        is(scalar(keys %{lines_for($h, 0)}), 0,
            "[$n] limit_conn: nothing logged while open");
        $l->send_close(3000);
        close_is($l, 3000, '', "[$n] limit_conn: 3000 echoed");
        close_is($c, 4003, 'Peer Gone', "[$n] limit_conn: peer gets 4003");
        my $by = lines_for($h, 2);
        is($by->{listen}{code}, 3000, "[$n] limit_conn: listener's code");
        is($by->{listen}{reason}, '-', "[$n] ... no reason of ours");
        is($by->{connect}{code}, 4003, "[$n] limit_conn: connector's code");
    }

    # a refused handshake (signaller_refusal close)
    {
        my $h = $t->handle;
        my $c = $t->ws("/r/connect/$h");
        close_is($c, 4004, 'No Such Handle', "[$n] refused");
        my $e = lines_for($h, 1)->{connect};
        is($e && $e->{code}, 4004, "[$n] refused: logged with 4004");
    }

    # a peer dropped for not answering: 1001, its peer 4003
    {
        my ($l, $c) = $t->pair(base => '/p');
        my $h = $l->{handle};
        my $m;
        do { $m = $l->read_message(3, control => 1);
             $l->send_pong($m->{payload}) if $m && $m->{opcode} == OP_PING }
            while $m && $m->{opcode} == OP_PING;
        is($m && $m->{code}, 4003, "[$n] the silent connector's peer: 4003");
        $l->send_close(4003);
        my $by = lines_for($h, 2);
        is($by->{connect}{code}, 1001, "[$n] the silent one logged 1001");
        is($by->{listen}{code}, 4003, "[$n] its peer 4003");
        $c->close;
    }

    # a listener whose connection is lost: no close code
    {
        my $h = $t->handle;
        my $l = $t->ws("/listen/$h");
        $l->close;
        my $e = lines_for($h, 1)->{listen};
        is($e && $e->{code}, '-', "[$n] a lost connection: no close code");
    }
}

for my $n (1, 2) {
    $t = Signaller::Test->new(workers => $n)->require_module;
    $t->run($CONF);
    run_with();
    $t->stop;
}

{
    $t = Signaller::Test->new->require_module;
    for my $bad ('later', 'end handshake', '') {
        my ($rc, $out) = $t->test_config('server { listen '
            . '127.0.0.1:%%PORT%%; location / { signaller on; '
            . "signaller_log_at $bad; } }");
        isnt($rc, 0, "signaller_log_at '$bad' is refused");
        like($out, qr/\[emerg\].*(?:signaller_log_at|invalid value "later")/,
            '... saying why');
    }
}

done_testing;
