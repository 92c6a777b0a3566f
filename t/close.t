#!/usr/bin/perl

# Every row of the close table, for the peer that caused the close and the
# other peer, in each worker layout.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time sleep);
use Signaller::Test;
use Signaller::Test::Client;
use Signaller::Conformance qw(reason_for);

my $t = Signaller::Test->new->require_module;
$t->run(<<'EOF');
server {
    %%LISTEN%%
    location / {
        signaller on;
        signaller_listen_timeout 10s;
        signaller_pipe_timeout 30s;
    }
    location /size/ { signaller on; signaller_max_message_size 100; }
    location /count/ { signaller on; signaller_max_messages 3; }
    location /lt/ { signaller on; signaller_listen_timeout 1s; }
    location /pt/ {
        signaller on;
        signaller_listen_timeout 1s;
        signaller_pipe_timeout 1s;
    }
}
EOF

sub F { Signaller::Test::Client::frame(@_) }

# (cause, other) for who = listener | connector
sub roles {
    my ($who, $l, $c) = @_;
    return $who eq 'listener' ? ($l, $c) : ($c, $l);
}

# cause sends $bytes; cause gets $code, other gets $ocode
sub row {
    my (%o) = @_;
    my ($l, $c) = $t->pair(layout => $o{layout}, base => $o{base});
    my ($cause, $other) = roles($o{who}, $l, $c);
    my $n = "$o{name} [$o{layout}] by $o{who}";
    $o{act}->($cause, $other);
    if (exists $o{code}) {
        close_is($cause, $o{code},
            defined $o{code} ? $o{reason} // reason_for($o{code}) : '',
            "$n: causing peer gets " . ($o{code} // 'empty close'),
            reply => $o{reply} // 1);
    }
    close_is($other, $o{ocode}, reason_for($o{ocode}),
        "$n: other peer gets $o{ocode}");
}

my @who = ('listener', 'connector');

for my $layout ($t->layouts) {
    for my $who (@who) {
        my %r = (layout => $layout, who => $who);

        # a peer closes with 1000
        row(%r, name => 'close 1000', act => sub { $_[0]->send_close(1000) },
            code => 1000, ocode => 1000);
        row(%r, name => 'close 1000 with reason',
            act => sub { $_[0]->send_close(1000, "bye \xe2\x9c\x93") },
            code => 1000, ocode => 1000);

        # a peer closes with another valid code
        for my $code (1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012,
            1013, 1014, 3000, 3999, 4000, 4001, 4002, 4003, 4500, 4999)
        {
            row(%r, name => "close $code",
                act => sub { $_[0]->send_close($code, 'why') },
                code => $code, ocode => 4003);
        }
        row(%r, name => 'empty close', act => sub { $_[0]->send_close },
            code => undef, ocode => 4003);

        # TCP drops
        row(%r, name => 'TCP FIN', act => sub { $_[0]->close },
            ocode => 4003);
        row(%r, name => 'TCP RST', act => sub { $_[0]->reset },
            ocode => 4003);

        row(%r, name => 'TCP half-close', act => sub { $_[0]->shutdown_write },
            ocode => 4003);

        # nothing the causing peer sends after its close is relayed
        row(%r, name => 'data after close 1000', act => sub {
                $_[0]->send_raw(F(opcode => 8, payload => pack('n', 1000))
                    . F(opcode => 1, payload => 'too late'));
            }, code => 1000, ocode => 1000);
        row(%r, name => 'close 1000 with a 123-byte reason',
            act => sub { $_[0]->send_close(1000, 'r' x 123) },
            code => 1000, ocode => 1000);

        # close in the middle of a fragmented message
        row(%r, name => 'close mid-message', act => sub {
                $_[0]->send_frame(opcode => 1, fin => 0, payload => 'part');
                $_[0]->send_close(1000);
            }, code => 1000, ocode => 1000);

        # message over signaller_max_message_size (100)
        row(%r, base => '/size', name => '101-byte text',
            act => sub { $_[0]->send_text('x' x 101) },
            code => 1009, ocode => 4003);
        row(%r, name => 'default size: 65537 bytes',
            act => sub { $_[0]->send_binary('x' x 65537) },
            code => 1009, ocode => 4003);
        row(%r, base => '/size', name => 'oversize, then more data',
            act => sub { $_[0]->send_raw(F(opcode => 1, payload => 'x' x 101)
                . F(opcode => 1, payload => 'after')) },
            code => 1009, ocode => 4003);
        row(%r, name => 'protocol error, then more data',
            act => sub { $_[0]->send_raw(F(opcode => 1, rsv => 4)
                . F(opcode => 1, payload => 'after')) },
            code => 1002, ocode => 4003);
        row(%r, base => '/size', name => '101-byte binary',
            act => sub { $_[0]->send_binary("\0" x 101) },
            code => 1009, ocode => 4003);
        row(%r, base => '/size', name => '101 bytes in fragments',
            act => sub { $_[0]->send_fragments(2, 'a' x 50, 'b' x 50, 'c') },
            code => 1009, ocode => 4003);
        row(%r, base => '/size', name => 'declared 1 MiB, header only',
            act => sub { $_[0]->send_raw(F(opcode => 2, len => 1 << 20,
                payload => 'abc')) },
            code => 1009, ocode => 4003);
        row(%r, base => '/size', name => 'declared 2^62, header only',
            act => sub { $_[0]->send_raw(F(opcode => 2, len => 2**62,
                payload => '')) },
            code => 1009, ocode => 4003);

        # protocol errors
        my @perr = (
            ['unmasked frame', F(mask => 0, payload => 'hi')],
            ['unmasked close', F(mask => 0, opcode => 8,
                payload => pack('n', 1000))],
            ['unmasked 60000-byte frame', F(mask => 0, opcode => 2,
                payload => 'u' x 60000)],
            ['RSV1', F(rsv => 4, payload => 'hi')],
            ['RSV2', F(rsv => 2, payload => 'hi')],
            ['RSV3', F(rsv => 1, payload => 'hi')],
            ['RSV1 on ping', F(rsv => 4, opcode => 9)],
            (map { ["opcode $_", F(opcode => $_, payload => 'x')] }
                3, 4, 5, 6, 7, 11, 12, 13, 14, 15),
            ['ping of 126 bytes', F(opcode => 9, payload => 'p' x 126)],
            ['pong of 126 bytes', F(opcode => 10, payload => 'p' x 126)],
            ['close of 126 bytes', F(opcode => 8,
                payload => pack('n', 1000) . 'r' x 124)],
            ['fragmented ping', F(opcode => 9, fin => 0, payload => 'a')],
            ['fragmented close', F(opcode => 8, fin => 0,
                payload => pack('n', 1000))],
            (map { ["close code $_", F(opcode => 8, payload => pack('n', $_))] }
                0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000,
                65535),
            ['1-byte close', F(opcode => 8, payload => "\x03")],
            ['continuation with no message', F(opcode => 0, payload => 'x')],
            ['text frame inside a fragmented message',
                F(opcode => 1, fin => 0, payload => 'a')
                . F(opcode => 1, payload => 'b')],
        );
        for my $e (@perr) {
            my ($name, $bytes) = @$e;
            row(%r, name => $name, act => sub { $_[0]->send_raw($bytes) },
                code => 1002, ocode => 4003);
        }

        # invalid UTF-8
        my @bad8 = (
            ['0xff', "\xff"],
            ['lone continuation byte', "ab\x80cd"],
            ['overlong 2 bytes', "\xc0\xaf"],
            ['overlong 3 bytes', "\xe0\x80\xaf"],
            ['surrogate', "\xed\xa0\x80"],
            ['above U+10FFFF', "\xf4\x90\x80\x80"],
            ['truncated at the end', "ab\xe2\x82"],
            ['0xff then 60000 bytes', "\xff" . ('v' x 60000)],
        );
        for my $e (@bad8) {
            row(%r, name => "text $e->[0]",
                act => sub { $_[0]->send_text($e->[1]) },
                code => 1007, ocode => 4003);
        }
        row(%r, name => 'fragmented text ending mid-character',
            act => sub { $_[0]->send_fragments(1, "ab\xe2", "\x82") },
            code => 1007, ocode => 4003);
        row(%r, name => 'invalid fragment of a text message',
            act => sub { $_[0]->send_fragments(1, 'ok', "\xff", 'ok') },
            code => 1007, ocode => 4003);
        row(%r, name => 'close reason invalid UTF-8',
            act => sub { $_[0]->send_close(1000, "bad \xff\xfe") },
            code => 1007, ocode => 4003);
        row(%r, name => 'close reason surrogate',
            act => sub { $_[0]->send_close(3000, "\xed\xa0\x80") },
            code => 1007, ocode => 4003);
    }

    # the server's close is not answered: TCP closed anyway within ~2 s
    {
        my ($l, $c) = $t->pair(layout => $layout);
        $l->send_close(3000);
        close_is($l, 3000, '', "[$layout] 3000 echoed", reply => 0);
        close_is($c, 4003, 'Peer Gone', "[$layout] other gets 4003",
            reply => 0, eof => 0);
        eof_is($c, 3.5, "[$layout] unanswered close: TCP closed anyway");
    }

    # pipelined close right after the connector's handshake
    {
        my ($l, $c) = $t->pair(layout => $layout, connector_opts => {
            pipeline => F(opcode => 1, payload => 'last words')
                . F(opcode => 8, payload => pack('n', 1000)) });
        msg_is($l, OP_TEXT, 'last words', "[$layout] pipelined message");
        close_is($l, 1000, 'Normal Closure', "[$layout] pipelined close: "
            . 'listener gets 1000');
        close_is($c, 1000, 'Normal Closure', "[$layout] pipelined close: "
            . 'echoed', reply => 0);
    }

    # messages at exactly the size limit pass
    {
        my ($l, $c) = $t->pair(layout => $layout, base => '/size');
        for ([$l, $c, 'listener->connector'], [$c, $l, 'connector->listener'])
        {
            my ($from, $to, $dir) = @$_;
            $from->send_text('x' x 100);
            msg_is($to, OP_TEXT, 'x' x 100, "[$layout] $dir 100 bytes pass");
            $from->send_fragments(2, 'a' x 40, 'b' x 60);
            msg_is($to, OP_BINARY, ('a' x 40) . ('b' x 60),
                "[$layout] $dir 100 bytes in fragments pass");
            $from->send_ping('p' x 125);
            my $p = $from->read_frame(3);
            ok($p && !$p->{eof} && $p->{opcode} == OP_PONG
                && $p->{payload} eq 'p' x 125,
                "[$layout] $dir 125-byte ping answered");
        }
        finish_pipe($l, $c, "[$layout] size limit");
    }

    # signaller_max_messages 3, counted per peer
    for my $who (@who) {
        my $n = "[$layout] max messages by $who";
        {
            my ($l, $c) = $t->pair(layout => $layout, base => '/count');
            my ($cause, $other) = roles($who, $l, $c);
            $cause->send_text("m$_") for 1 .. 2;
            msg_is($other, OP_TEXT, "m$_", "$n: message $_") for 1 .. 2;
            no_frame($other, 0.3, "$n: no close after 2 messages");
            $cause->send_raw(F(opcode => 1, payload => 'm3')
                . F(opcode => 1, payload => 'm4'));
            msg_is($other, OP_TEXT, 'm3', "$n: 3rd message delivered");
            # (close_is below fails if m4 arrives before the close)
            close_is($other, 4002, 'Too Many Messages', "$n: other gets 4002");
            close_is($cause, 4002, 'Too Many Messages', "$n: sender gets 4002");
        }
        {
            my ($l, $c) = $t->pair(layout => $layout, base => '/count');
            my ($cause, $other) = roles($who, $l, $c);
            $cause->send_text('a1');
            $other->send_text('b1');
            $cause->send_text('a2');
            $other->send_text('b2');
            msg_is($other, OP_TEXT, 'a1', "$n per peer: a1");
            msg_is($other, OP_TEXT, 'a2', "$n per peer: a2");
            msg_is($cause, OP_TEXT, 'b1', "$n per peer: b1");
            msg_is($cause, OP_TEXT, 'b2', "$n per peer: b2");
            no_frame($cause, 0.3, "$n per peer: 2+2 messages close nothing");
            $cause->send_binary('a3');
            msg_is($other, OP_BINARY, 'a3', "$n per peer: a3 delivered");
            close_is($other, 4002, 'Too Many Messages', "$n per peer: 4002");
            close_is($cause, 4002, 'Too Many Messages', "$n per peer: 4002");
        }
        {
            my ($l, $c) = $t->pair(layout => $layout, base => '/count');
            my ($cause, $other) = roles($who, $l, $c);
            $cause->send_ping("p$_") for 1 .. 5;
            $cause->send_pong('unsolicited');
            $cause->send_fragments(1, 'fr', 'ag');
            $cause->send_text('');
            msg_is($other, OP_TEXT, 'frag', "$n: fragmented counts once");
            msg_is($other, OP_TEXT, '', "$n: empty message");
            no_frame($other, 0.3, "$n: pings do not count");
            $cause->send_binary('');
            msg_is($other, OP_BINARY, '', "$n: empty 3rd message delivered");
            close_is($other, 4002, 'Too Many Messages',
                "$n: empty messages count");
            close_is($cause, 4002, 'Too Many Messages', "$n: sender 4002");
        }
    }
    {
        my $n = "[$layout] max messages, held messages count";
        my ($l, $c) = $t->pair(layout => $layout, base => '/count',
            before => sub { $_[0]->send_text("h$_") for 1 .. 2;
                sleep 0.2 });
        msg_is($c, OP_TEXT, "h$_", "$n: held $_") for 1 .. 2;
        $l->send_text('h3');
        msg_is($c, OP_TEXT, 'h3', "$n: 3rd delivered");
        close_is($c, 4002, 'Too Many Messages', "$n: connector 4002");
        close_is($l, 4002, 'Too Many Messages', "$n: listener 4002");
    }

    # pipe timeout 1 s, counted from pairing (listen timeout 1 s too)
    {
        my $n = "[$layout] pipe timeout";
        my $t0 = time;
        my $tp;
        my ($l, $c) = $t->pair(layout => $layout, base => '/pt',
            before => sub { sleep 0.5; });
        $tp = time;
        $l->send_text('in time');
        msg_is($c, OP_TEXT, 'in time', "$n: relay before the timeout");
        sleep 0.3;
        $c->send_text('still');
        msg_is($l, OP_TEXT, 'still', "$n: messages do not matter");
        close_is($l, 4001, 'Pipe Timeout', "$n: listener gets 4001",
            timeout => 3);
        my $dt = time - $tp;
        close_is($c, 4001, 'Pipe Timeout', "$n: connector gets 4001",
            timeout => 3);
        cmp_ok($dt, '>=', 0.85, "$n: not before the timeout ($dt s)");
        cmp_ok($dt, '<=', scaled(2.5), "$n: within timeout + 1.5 s");
        cmp_ok(time - $t0, '>=', 1.3, "$n: counted from pairing, not listen");
    }
}

# listen timeout: 4000, no other peer
{
    my $h = $t->handle;
    my $t0 = time;
    my $l = $t->ws("/lt/listen/$h");
    is($l->status, 101, 'listener for listen timeout');
    close_is($l, 4000, 'Listen Timeout', 'listen timeout: 4000', timeout => 3);
    my $dt = time - $t0;
    cmp_ok($dt, '>=', 0.85, "listen timeout not early ($dt s)");
    cmp_ok($dt, '<=', scaled(2.5),
        'listen timeout within timeout + 1.5 s');
    is($t->ws("/lt/connect/$h")->status, 404, 'handle gone after timeout');
    my $l2 = $t->ws("/lt/listen/$h");
    is($l2->status, 101, 'handle free after the listen timeout');
    close_listener($l2, 'relisten');
}

# listen timeout with pings and messages while waiting: still 4000
{
    my $l = $t->ws('/lt/listen/' . $t->handle);
    $l->send_ping('x');
    sleep 0.3;
    $l->send_text('held');
    close_is($l, 4000, 'Listen Timeout', 'listen timeout despite activity',
        timeout => 3);
}

# waiting listener errors: its own close code only
{
    my @w = (
        ['oversize', '/size', sub { $_[0]->send_text('x' x 101) }, 1009],
        ['unmasked', '', sub { $_[0]->send_raw(F(mask => 0)) }, 1002],
        ['RSV', '', sub { $_[0]->send_raw(F(rsv => 4)) }, 1002],
        ['bad UTF-8', '', sub { $_[0]->send_text("\xff") }, 1007],
        ['bad close code', '', sub { $_[0]->send_close(1005) }, 1002],
    );
    for my $w (@w) {
        my ($name, $base, $act, $code) = @$w;
        my $h = $t->handle;
        my $l = $t->ws("$base/listen/$h");
        is($l->status, 101, "waiting $name: listener");
        $act->($l);
        close_is($l, $code, reason_for($code), "waiting $name: $code");
        my $l2 = $t->ws("$base/listen/$h");
        is($l2->status, 101, "waiting $name: handle freed");
        close_listener($l2, "waiting $name relisten");
    }
}

$t->stop;
done_testing;
