#!/usr/bin/perl

# Relay: message types, empty, fragmented and large messages in both
# directions; messages a listener sends before pairing; frames pipelined
# with the handshake request. Runs once per worker layout.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use POSIX ();
use Signaller::Test;
use Signaller::Test::Client;

my $t = Signaller::Test->new->require_module;
$t->run(<<'EOF');
server {
    %%LISTEN%%
    location / {
        signaller on;
        signaller_listen_timeout 20s;
        signaller_pipe_timeout 60s;
        signaller_max_messages 1000;
    }
}
EOF

my $utf8 = "h\xc3\xa9llo \xe2\x9c\x93 \xf0\x9d\x84\x9e";    # héllo ✓ 𝄞
my $allbytes = join '', map { chr } 0 .. 255;
my $big = join '', map { chr(($_ * 7) % 256) } 1 .. 65536;   # == 64k default
my $bigtext = ('abcdefghijklmnopqrstuvwxyz0123456789' x 2000);
$bigtext = substr($bigtext, 0, 65536 - 4) . "\xe2\x9c\x93x";  # valid, 64k

sub both_ways {
    my ($l, $c, $code) = @_;
    $code->($l, $c, 'listener->connector');
    $code->($c, $l, 'connector->listener');
}

for my $layout ($t->layouts) {
    my $L = "[$layout]";

    subtest "$L single-frame messages" => sub {
        my ($l, $c) = $t->pair(layout => $layout);
        both_ways($l, $c, sub {
            my ($from, $to, $dir) = @_;
            $from->send_text('hello');
            msg_is($to, OP_TEXT, 'hello', "$dir text");
            $from->send_binary("\x00\x01\xff");
            msg_is($to, OP_BINARY, "\x00\x01\xff", "$dir binary");
            $from->send_text('');
            msg_is($to, OP_TEXT, '', "$dir empty text");
            $from->send_binary('');
            msg_is($to, OP_BINARY, '', "$dir empty binary");
            $from->send_text($utf8);
            msg_is($to, OP_TEXT, $utf8, "$dir UTF-8 text");
            $from->send_binary($allbytes);
            msg_is($to, OP_BINARY, $allbytes, "$dir all byte values");
            $from->send_binary("\xff\xfe\xc0\xaf");
            msg_is($to, OP_BINARY, "\xff\xfe\xc0\xaf",
                "$dir binary is not UTF-8 checked");
            $from->send_text('x' x 125);
            msg_is($to, OP_TEXT, 'x' x 125, "$dir 125 bytes");
            $from->send_text('y' x 126);
            msg_is($to, OP_TEXT, 'y' x 126, "$dir 126 bytes (16-bit length)");
            $from->send_text('z' x 65535);
            msg_is($to, OP_TEXT, 'z' x 65535, "$dir 65535 bytes");
            $from->send_text('text', mask_key => "\0\0\0\0");
            msg_is($to, OP_TEXT, 'text', "$dir zero mask key");
        });
        finish_pipe($l, $c, "$L single");
    };

    subtest "$L large messages (max size exactly)" => sub {
        my ($l, $c) = $t->pair(layout => $layout);
        both_ways($l, $c, sub {
            my ($from, $to, $dir) = @_;
            $from->send_binary($big);
            msg_is($to, OP_BINARY, $big, "$dir 65536-byte binary",
                timeout => 10);
            $from->send_text($bigtext);
            msg_is($to, OP_TEXT, $bigtext, "$dir 65536-byte text",
                timeout => 10);
            $from->send_fragments(OP_BINARY, substr($big, 0, 30000),
                substr($big, 30000, 30000), substr($big, 60000));
            msg_is($to, OP_BINARY, $big, "$dir 65536 bytes in 3 fragments",
                timeout => 10);
        });
        finish_pipe($l, $c, "$L large");
    };

    subtest "$L both directions at once" => sub {
        my ($l, $c) = $t->pair(layout => $layout);
        my @m = map { chr(65 + $_) x 20000 } 0 .. 4;
        # both write everything before either reads
        $l->send_raw(join '', map {
            Signaller::Test::Client::frame(opcode => 2, payload => $_) } @m);
        $c->send_raw(join '', map {
            Signaller::Test::Client::frame(opcode => 2, payload => lc $_) }
            @m);
        for my $i (0 .. 4) {
            msg_is($c, OP_BINARY, $m[$i], "connector gets message $i",
                timeout => 10);
            msg_is($l, OP_BINARY, lc $m[$i], "listener gets message $i",
                timeout => 10);
        }
        finish_pipe($l, $c, "$L simultaneous");
    };

    subtest "$L fragmented messages" => sub {
        my ($l, $c) = $t->pair(layout => $layout);
        both_ways($l, $c, sub {
            my ($from, $to, $dir) = @_;
            # split inside a multi-byte character
            $from->send_fragments(OP_TEXT, "h\xc3", "\xa9llo \xe2",
                "\x9c\x93");
            msg_is($to, OP_TEXT, "h\xc3\xa9llo \xe2\x9c\x93",
                "$dir text split inside characters");
            $from->send_fragments(OP_BINARY, '', "ab", '', "cd", '');
            msg_is($to, OP_BINARY, 'abcd', "$dir binary with empty fragments");
            $from->send_fragments(OP_TEXT, '', '');
            msg_is($to, OP_TEXT, '', "$dir empty fragmented text");
            # a ping between fragments: answered, message intact
            $from->send_raw(
                Signaller::Test::Client::frame(opcode => 1, fin => 0,
                    payload => 'one ')
                . Signaller::Test::Client::frame(opcode => 9,
                    payload => 'mid')
                . Signaller::Test::Client::frame(opcode => 0, fin => 0,
                    payload => 'two ')
                . Signaller::Test::Client::frame(opcode => 10,
                    payload => 'unsolicited')
                . Signaller::Test::Client::frame(opcode => 0,
                    payload => 'three'));
            my $p = $from->read_frame(3);
            ok($p && !$p->{eof} && $p->{opcode} == OP_PONG
                && $p->{payload} eq 'mid', "$dir ping mid-message: pong");
            msg_is($to, OP_TEXT, 'one two three',
                "$dir message with control frames inside");
            # fragments sent slowly
            $from->send_frame(opcode => 2, fin => 0, payload => 'sl');
            select undef, undef, undef, 0.2;
            $from->send_frame(opcode => 0, fin => 0, payload => 'o');
            select undef, undef, undef, 0.2;
            $from->send_frame(opcode => 0, fin => 1, payload => 'w');
            msg_is($to, OP_BINARY, 'slow', "$dir slow fragments");
        });
        finish_pipe($l, $c, "$L fragmented");
    };

    subtest "$L order and ping" => sub {
        my ($l, $c) = $t->pair(layout => $layout);
        my @m = map { [$_ % 2 ? OP_TEXT : OP_BINARY, "message $_"] } 1 .. 200;
        $l->send_raw(join '', map { Signaller::Test::Client::frame(
            opcode => $_->[0], payload => $_->[1]) } @m);
        my $good = 0;
        for (@m) {
            my $r = $c->read_message(5);
            $good++ if $r && !$r->{eof} && $r->{opcode} == $_->[0]
                && $r->{payload} eq $_->[1];
        }
        is($good, 200, '200 messages in order, types kept');
        both_ways($l, $c, sub {
            my ($from, $to, $dir) = @_;
            $from->send_ping('are you there');
            my $p = $from->read_frame(3);
            ok($p && !$p->{eof} && $p->{opcode} == OP_PONG
                && $p->{payload} eq 'are you there', "$dir paired ping: pong");
            $from->send_text('after ping');
            msg_is($to, OP_TEXT, 'after ping', "$dir message after ping");
        });
        finish_pipe($l, $c, "$L order");
    };

    subtest "$L listener messages before pairing" => sub {
        my ($l, $c) = $t->pair(layout => $layout, before => sub {
            my ($l) = @_;
            $l->send_text('first');
            $l->send_binary("sec\x00ond");
            $l->send_text('');
            $l->send_fragments(OP_TEXT, 'fra', 'gmented');
            $l->send_text('w' x 5000);
            # a message whose first fragment is sent before pairing
            $l->send_frame(opcode => 2, fin => 0, payload => 'half');
            select undef, undef, undef, 0.3;
        });
        msg_is($c, OP_TEXT, 'first', 'held message 1');
        msg_is($c, OP_BINARY, "sec\x00ond", 'held message 2');
        msg_is($c, OP_TEXT, '', 'held empty message');
        msg_is($c, OP_TEXT, 'fragmented', 'held fragmented message');
        msg_is($c, OP_TEXT, 'w' x 5000, 'held 5000-byte message');
        no_frame($c, 0.3, 'unfinished message not delivered');
        $l->send_frame(opcode => 0, fin => 1, payload => ' and half');
        msg_is($c, OP_BINARY, 'half and half',
            'message begun before pairing completes after');
        $c->send_text('reply');
        msg_is($l, OP_TEXT, 'reply', 'connector reply');
        finish_pipe($l, $c, "$L held");
    };

    subtest "$L many large messages held before pairing" => sub {
        my @m = map { chr(97 + $_) x 30000 } 0 .. 7;
        my ($l, $c) = $t->pair(layout => $layout, before => sub {
            $_[0]->send_binary($_) for @m;
            select undef, undef, undef, 0.2;
        });
        msg_is($c, OP_BINARY, $m[$_], "held 30000-byte message $_",
            timeout => 5) for 0 .. $#m;
        finish_pipe($l, $c, "$L held large");
    };

    subtest "$L pipelined frames after the listener's handshake" => sub {
        my $pipe = Signaller::Test::Client::frame(opcode => 1,
                payload => 'piped one')
            . Signaller::Test::Client::frame(opcode => 2, payload => 'two')
            . Signaller::Test::Client::fragments_bytes(OP_TEXT, 'th', 'ree');
        my ($l, $c) = $t->pair(layout => $layout,
            listener_opts => { pipeline => $pipe });
        msg_is($c, OP_TEXT, 'piped one', 'pipelined message 1');
        msg_is($c, OP_BINARY, 'two', 'pipelined message 2');
        msg_is($c, OP_TEXT, 'three', 'pipelined fragmented message');
        finish_pipe($l, $c, "$L listener pipelined");
    };

    subtest "$L pipelined frames after large request headers" => sub {
        # headers beyond client_header_buffer_size (1k): nginx moves the
        # request into a large buffer; the frames after it must survive
        my @big = (['Cookie', 'c=' . ('k' x 3000)], ['X-Pad', 'p' x 2000]);
        my $lp = Signaller::Test::Client::frame(opcode => 1,
            payload => 'after big listener headers');
        my $cp = Signaller::Test::Client::frame(opcode => 2,
            payload => 'after big connector headers');
        my ($l, $c) = $t->pair(layout => $layout,
            listener_opts => { headers => \@big, pipeline => $lp },
            connector_opts => { headers => \@big, pipeline => $cp });
        msg_is($c, OP_TEXT, 'after big listener headers',
            'listener frame after 5 KB of headers');
        msg_is($l, OP_BINARY, 'after big connector headers',
            'connector frame after 5 KB of headers');
        finish_pipe($l, $c, "$L big headers");
    };

    subtest "$L pipelined ping after the listener's handshake" => sub {
        my $h = $t->handle;
        my $l = $t->ws("/listen/$h", pipeline =>
            Signaller::Test::Client::frame(opcode => 9, payload => 'pp'));
        is($l->status, 101, 'listener 101');
        my $p = $l->read_frame(3);
        ok($p && !$p->{eof} && $p->{opcode} == OP_PONG
            && $p->{payload} eq 'pp', 'pipelined ping answered');
        close_listener($l, 'pipelined ping');
    };

    subtest "$L pipelined frames after the connector's handshake" => sub {
        my $pipe = Signaller::Test::Client::frame(opcode => 1,
                payload => 'from connector')
            . Signaller::Test::Client::frame(opcode => 2, payload => "\x01")
            . Signaller::Test::Client::frame(opcode => 9, payload => 'cp');
        my ($l, $c) = $t->pair(layout => $layout,
            connector_opts => { pipeline => $pipe });
        msg_is($l, OP_TEXT, 'from connector', 'pipelined message 1');
        msg_is($l, OP_BINARY, "\x01", 'pipelined message 2');
        my $p = $c->read_frame(3);
        ok($p && !$p->{eof} && $p->{opcode} == OP_PONG
            && $p->{payload} eq 'cp', 'pipelined ping answered');
        finish_pipe($l, $c, "$L connector pipelined");
    };

    subtest "$L frames split into pieces" => sub {
        my ($l, $c) = $t->pair(layout => $layout);
        my $bytes = Signaller::Test::Client::frame(opcode => 1,
                payload => 'byte by byte')
            . Signaller::Test::Client::frame(opcode => 2,
                payload => 'q' x 300);
        for my $b (split //, $bytes) {
            $l->send_raw($b);
            select undef, undef, undef, 0.001;
        }
        msg_is($c, OP_TEXT, 'byte by byte', 'frame sent byte by byte');
        msg_is($c, OP_BINARY, 'q' x 300,
            '16-bit length frame sent byte by byte');
        finish_pipe($l, $c, "$L split");
    };

    subtest "$L slow receiver" => sub {
        my ($l, $c) = $t->pair(layout => $layout);
        my @m = map { chr(65 + $_ % 26) x 60000 } 0 .. 59;    # 3.6 MB
        my $pid = fork() // die "fork: $!";
        if ($pid == 0) {
            $l->send_raw(join('', map { Signaller::Test::Client::frame(
                opcode => 2, payload => $_) } @m), 30);
            POSIX::_exit(0);
        }
        select undef, undef, undef, 1;    # the connector reads nothing
        my $good = 0;
        for my $i (0 .. $#m) {
            my $r = $c->read_message(10);
            last unless $r && !$r->{eof};
            $good++ if $r->{opcode} == OP_BINARY && $r->{payload} eq $m[$i];
        }
        waitpid $pid, 0;
        is($good, 60, '3.6 MB to a slow receiver: all 60 messages intact');
        finish_pipe($l, $c, "$L slow receiver");
    };

    subtest "$L many pairs at once" => sub {
        my @pairs = map { [$t->pair(layout => $layout)] } 1 .. 20;
        for my $i (0 .. $#pairs) {
            $pairs[$i][0]->send_text("to c $i");
            $pairs[$i][1]->send_text("to l $i");
        }
        my $good = 0;
        for my $i (0 .. $#pairs) {
            my $a = $pairs[$i][1]->read_message(3);
            my $b = $pairs[$i][0]->read_message(3);
            $good++ if $a && ($a->{payload} // '') eq "to c $i"
                && $b && ($b->{payload} // '') eq "to l $i";
        }
        is($good, 20, 'each pair gets its own messages');
        finish_pipe(@$_, 'many') for @pairs;
    };
}

$t->stop;
done_testing;
