package Signaller::Conformance;

# Helpers for table-driven protocol tests (t/conformance.t): frames built
# from a small spec, written in chosen TCP writes, and everything a client
# receives collected as a list of events to compare with an expected list.
#
# Frame specs (hashrefs, see Signaller::Test::Client::frame): opcode,
# payload, fin, rsv, mask, mask_key, len (declared length override: with a
# shorter payload only the header and that payload are sent), len_form.
# { raw => $bytes } is sent as is.
#
# Events: ['msg', $opcode, $payload] (a whole data message),
# ['partial', $opcode, $bytes] (data of an unfinished message when a close
# or EOF came), ['pong', $p], ['ping', $p], ['close', $code, $reason]
# ($code undef for an empty close), ['eof'], ['timeout'] (nothing within
# 3 s), ['no eof ...'] (the server did not close TCP within eof_within, by
# default 0.3 s, of the close handshake; both times are multiplied by
# SIGNALLER_TIME_SCALE: its close frame sent and, if the
# client had not sent its close yet, answered), ['error', $what].
# ['pongs', [payloads]] in expected lists: see match_events.
# In expected lists, ['partial_upto', $opcode, $s] matches a 'partial' whose
# bytes are a prefix of $s, or nothing at all (the relay forwards pieces of
# a message as they arrive, so how much of an unfinished message the peer
# got depends on timing; it must never be more than $s).

use strict;
use warnings;

use Exporter qw(import);
use Time::HiRes qw(time sleep);
use Signaller::Test::Client;

our @EXPORT = qw(
    TEXT BIN CONT PING PONG CLOSE OPF RAW
    E_TEXT E_BIN E_PONG E_PONGS E_CLOSE E_EMPTY_CLOSE E_PARTIAL
    stream_bytes write_stream collect match_events show_events
    utf8_valid_prefix_len reason_for
);

# The reason the server's close frames carry with each code ('' with any
# other code); t/close.t uses it too.
my %REASON = (
    1000 => 'Normal Closure', 1001 => 'Going Away', 1002 => 'Protocol Error',
    1007 => 'Invalid Payload', 1009 => 'Message Too Big',
    1011 => 'Internal Error', 4000 => 'Listen Timeout',
    4001 => 'Pipe Timeout', 4002 => 'Too Many Messages',
    4003 => 'Peer Gone',
);

sub reason_for { $REASON{$_[0]} // '' }

sub OPF { my ($op, $p, %o) = @_; return { opcode => $op, payload => $p // '', %o } }
sub TEXT { OPF(1, @_) }
sub BIN { OPF(2, @_) }
sub CONT { OPF(0, @_) }
sub PING { OPF(9, @_) }
sub PONG { OPF(10, @_) }
sub CLOSE {
    my ($code, $reason, %o) = @_;
    return OPF(8, Signaller::Test::Client::close_payload($code, $reason), %o);
}
sub RAW { return { raw => $_[0] } }

sub E_TEXT { ['msg', 1, $_[0]] }
sub E_BIN { ['msg', 2, $_[0]] }
sub E_PONG { ['pong', $_[0] // ''] }
sub E_CLOSE { ['close', $_[0], $_[1] // reason_for($_[0])] }
sub E_EMPTY_CLOSE { ['close', undef, ''] }
sub E_PARTIAL { ['partial_upto', $_[0], $_[1]] }
sub E_PONGS { ['pongs', [@_]] }

# (bytes, [frame end offsets])
sub stream_bytes {
    my (@frames) = @_;
    my $b = '';
    my @ends;
    for my $f (@frames) {
        $b .= defined $f->{raw} ? $f->{raw}
            : Signaller::Test::Client::frame(%$f);
        push @ends, length $b;
    }
    return ($b, \@ends);
}

# Write the frames in TCP writes: split undef (one write), 'frames' (one
# write per frame), 'bytes' (one write per byte) or [offsets].
sub write_stream {
    my ($c, $frames, $split, $pause) = @_;
    my ($b, $ends) = stream_bytes(@$frames);
    $pause //= 0.004;
    my @cuts = !defined $split ? ()
        : $split eq 'frames' ? @$ends
        : $split eq 'bytes' ? (1 .. length $b)
        : @$split;
    my $off = 0;
    for my $cut ((grep { $_ > 0 && $_ < length $b } @cuts), length $b) {
        next if $cut <= $off;
        $c->send_raw(substr($b, $off, $cut - $off)) or return 0;
        $off = $cut;
        sleep $pause if $off < length $b;
    }
    return 1;
}

# Everything the server sends to $c until EOF (or timeout). reply => 1:
# answer the first close frame with a close carrying its code. After the
# first close, EOF must follow within eof_within seconds.
sub collect {
    my ($c, %o) = @_;
    my @ev;
    my $partial;
    my $closed = 0;
    my $deadline = time + Signaller::Test::Client::scaled($o{timeout} // 3);
    while (1) {
        my $left = $deadline - time;
        my $f = $c->read_frame_by($left > 0 ? $deadline : time + 0.001);
        unless (defined $f) {
            push @ev, ['partial', $partial->{op}, $partial->{data}]
                if $partial;
            push @ev, $closed ? ['no eof ' . ($o{eof_within} // 0.3)
                . ' s after the close'] : ['timeout'];
            last;
        }
        if ($f->{eof}) {
            push @ev, ['partial', $partial->{op}, $partial->{data}]
                if $partial;
            push @ev, ['eof'];
            last;
        }
        my $op = $f->{opcode};
        if ($f->{rsv}) {
            push @ev, ['error', "rsv bits $f->{rsv} in server frame"];
        }
        if ($op == 1 || $op == 2) {
            push @ev, ['error', 'data frame inside a fragmented message']
                if $partial;
            $partial = { op => $op, data => $f->{payload} };
        } elsif ($op == 0) {
            unless ($partial) {
                push @ev, ['error', 'continuation without a message'];
                next;
            }
            $partial->{data} .= $f->{payload};
        } elsif ($op == 9) {
            push @ev, ['ping', $f->{payload}];
            next;
        } elsif ($op == 10) {
            push @ev, ['pong', $f->{payload}];
            next;
        } elsif ($op == 8) {
            push @ev, ['partial', $partial->{op}, $partial->{data}]
                if $partial;
            $partial = undef;
            my $p = $f->{payload};
            push @ev, length $p >= 2
                ? ['close', unpack('n', $p), substr($p, 2)]
                : length $p ? ['error', 'close with a 1-byte payload']
                : ['close', undef, ''];
            unless ($closed) {
                $closed = 1;
                $c->send_close(length $p >= 2 ? unpack('n', $p) : undef)
                    if $o{reply};
                $deadline = time + Signaller::Test::Client::scaled(
                    $o{eof_within} // 0.3);
            }
            next;
        } else {
            push @ev, ['error', "server opcode $op"];
            next;
        }
        if ($f->{fin}) {
            push @ev, ['msg', $partial->{op}, $partial->{data}];
            $partial = undef;
        }
    }
    return \@ev;
}

# Resolve 'partial_upto' entries of $exp against $got; returns the
# expected list to compare with is_deeply.
sub match_events {
    my ($got, $exp) = @_;
    my @e;
    my $gi = 0;
    for my $x (@$exp) {
        if ($x->[0] eq 'pongs') {
            # pongs for a burst of pings: RFC 6455 5.5.3 lets an endpoint
            # answer only the most recent of pings it has not answered yet,
            # so any in-order subsequence that ends with the last ping
            my @want = @{$x->[1]};
            my @got;
            while ($got->[$gi] && $got->[$gi][0] eq 'pong') {
                push @got, $got->[$gi][1];
                $gi++;
            }
            my $w = 0;
            my $ok = @got > 0 && $got[-1] eq $want[-1];
            for my $g (@got) {
                $w++ while $w < @want && $want[$w] ne $g;
                $ok = 0, last if $w == @want;
                $w++;
            }
            push @e, $ok ? (map { ['pong', $_] } @got)
                : (map { ['pong', $_] } @want);
            next;
        }
        if ($x->[0] eq 'partial_upto') {
            my $g = $got->[$gi];
            if ($g && $g->[0] eq 'partial' && $g->[1] == $x->[1]
                && index($x->[2], $g->[2]) == 0)
            {
                push @e, $g;
                $gi++;
            }
            next;
        }
        push @e, $x;
        $gi++;
    }
    return \@e;
}

sub _show {
    my ($s) = @_;
    return 'undef' unless defined $s;
    my $more = '';
    if (length $s > 40) {
        $more = '...(' . length($s) . ' bytes)';
        $s = substr($s, 0, 40);
    }
    (my $e = $s) =~ s/([^\x20-\x7e])/sprintf('\\x%02x', ord $1)/ge;
    return "\"$e\"$more";
}

sub show_events {
    my ($ev) = @_;
    return join ', ', map {
        my @x = @$_;
        $x[0] . (@x > 1 ? '(' . join(' ', map { _show($_) } @x[1 .. $#x])
            . ')' : '')
    } @$ev;
}

# Length of the longest prefix of $s that is valid UTF-8 or the start of a
# valid sequence (RFC 3629 table 4): the bytes a relay may forward before it
# knows a text is invalid.
sub utf8_valid_prefix_len {
    my ($s) = @_;
    my $i = 0;
    my $n = length $s;
    while ($i < $n) {
        my $c = ord substr($s, $i, 1);
        my ($need, $lo, $hi) = (0, 0x80, 0xbf);
        if ($c < 0x80) { $i++; next }
        elsif ($c >= 0xc2 && $c <= 0xdf) { $need = 1 }
        elsif ($c == 0xe0) { ($need, $lo) = (2, 0xa0) }
        elsif ($c >= 0xe1 && $c <= 0xec) { $need = 2 }
        elsif ($c == 0xed) { ($need, $hi) = (2, 0x9f) }
        elsif ($c >= 0xee && $c <= 0xef) { $need = 2 }
        elsif ($c == 0xf0) { ($need, $lo) = (3, 0x90) }
        elsif ($c >= 0xf1 && $c <= 0xf3) { $need = 3 }
        elsif ($c == 0xf4) { ($need, $hi) = (3, 0x8f) }
        else { return $i }
        my $j = $i + 1;
        for my $k (1 .. $need) {
            return $n if $j >= $n;    # truncated: a valid start so far
            my $d = ord substr($s, $j, 1);
            return $j if $d < $lo || $d > $hi;
            ($lo, $hi) = (0x80, 0xbf);
            $j++;
        }
        $i = $j;
    }
    return $n;
}

1;
