package Signaller::Test::Client;

# Raw WebSocket client over IO::Socket::INET: exact bytes in both
# directions, deliberately broken frames on request.

use strict;
use warnings;

use Digest::SHA qw(sha1);
use Errno qw(EAGAIN EWOULDBLOCK EINTR);
use IO::Select;
use IO::Socket::INET;
use MIME::Base64 qw(encode_base64 decode_base64);
use Socket qw(SOL_SOCKET SO_LINGER IPPROTO_TCP TCP_NODELAY);
use Test::More ();
use Time::HiRes qw(time);

use constant GUID => '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

# SIGNALLER_TIME_SCALE (default 1) multiplies every timeout and deadline of
# the harness (nginx under valgrind runs some 20 times slower). Timeouts
# given to this class's methods are in unscaled seconds; scaled() converts.
our $TIME_SCALE = do {
    my $v = $ENV{SIGNALLER_TIME_SCALE};
    defined $v && $v =~ /^\s*(\d+(?:\.\d*)?|\.\d+)\s*$/ && $1 > 0 ? $1 + 0 : 1;
};

sub scaled { return $_[0] * $TIME_SCALE }

sub new {
    my ($class, %o) = @_;
    my $s = IO::Socket::INET->new(
        PeerAddr => '127.0.0.1', PeerPort => $o{port}, Proto => 'tcp',
        Timeout => scaled(5),
    ) or die "connect 127.0.0.1:$o{port}: $@\n";
    setsockopt($s, IPPROTO_TCP, TCP_NODELAY, 1);
    $s->blocking(0);
    return bless {
        sock => $s, port => $o{port}, buf => '', eof => 0,
        timeout => $o{timeout} // 3, control => [],
    }, $class;
}

sub sock { $_[0]{sock} }
sub status { $_[0]{status} }
sub pid { $_[0]{pid} }
sub key { $_[0]{key} }
sub response { $_[0]{response} }

# All values of a response header (lower-case name), joined by ", ".
sub header {
    my ($self, $name) = @_;
    my $v = $self->{headers}{lc $name} or return undef;
    return join ', ', @$v;
}

sub header_count {
    my ($self, $name) = @_;
    return scalar @{$self->{headers}{lc $name} // []};
}

sub accept_for {
    my ($key) = @_;
    return encode_base64(sha1($key . GUID), '');
}

sub expected_accept { accept_for($_[0]{key} // '') }

sub random_key { encode_base64(join('', map { chr int rand 256 } 1 .. 16), '') }

### raw IO ###

sub send_raw {
    my ($self, $data, $timeout) = @_;
    my $deadline = time + scaled($timeout // 10);
    my $sel = IO::Select->new($self->{sock});
    my $off = 0;
    while ($off < length $data) {
        my $n = syswrite($self->{sock}, $data, length($data) - $off, $off);
        if (defined $n) {
            $off += $n;
            next;
        }
        return 0 unless $! == EAGAIN || $! == EWOULDBLOCK || $! == EINTR;
        my $left = $deadline - time;
        return 0 if $left <= 0;
        $sel->can_write($left);
    }
    return 1;
}

# Read more into the buffer; 1 if data arrived, 0 on EOF, undef on timeout.
# A TLS socket (Signaller::TLS) may hold decrypted data it has not handed
# out yet (pending): that is read before waiting on the socket.
sub _fill {
    my ($self, $deadline) = @_;
    return 0 if $self->{eof};
    my $s = $self->{sock};
    my $sel = IO::Select->new($s);
    while (1) {
        unless ($s->can('pending') && $s->pending) {
            my $left = $deadline - time;
            $left = 0 if $left < 0;
            return undef unless $sel->can_read($left);
        }
        my $n = sysread($self->{sock}, my $chunk, 65536);
        if (!defined $n) {
            next if $! == EAGAIN || $! == EWOULDBLOCK || $! == EINTR;
            $self->{eof} = 1;    # ECONNRESET and friends
            $self->{reset} = 1;
            return 0;
        }
        if ($n == 0) {
            $self->{eof} = 1;
            return 0;
        }
        $self->{buf} .= $chunk;
        return 1;
    }
}

sub close {
    my ($self) = @_;
    CORE::close($self->{sock}) if $self->{sock};
}

# Abortive close: RST instead of FIN.
sub reset {
    my ($self) = @_;
    setsockopt($self->{sock}, SOL_SOCKET, SO_LINGER, pack('ii', 1, 0));
    CORE::close($self->{sock});
}

# Half-close: FIN, socket still readable.
sub shutdown_write {
    my ($self) = @_;
    CORE::shutdown($self->{sock}, 1);
}

# Wait for TCP EOF (discarding data); 1 on EOF, 0 on timeout.
sub wait_eof {
    my ($self, $timeout) = @_;
    my $deadline = time + scaled($timeout // $self->{timeout});
    while (1) {
        $self->{buf} = '';
        my $r = $self->_fill($deadline);
        return 1 if defined $r && $r == 0;
        return 0 unless defined $r;
    }
}

### HTTP ###

sub _read_head {
    my ($self, $deadline) = @_;
    while ($self->{buf} !~ /\r\n\r\n/) {
        my $r = $self->_fill($deadline);
        return undef unless $r;
    }
    $self->{buf} =~ s/^(.*?\r\n)\r\n//s;
    return $1;
}

sub _parse_head {
    my ($self, $head) = @_;
    my @lines = split /\r\n/, $head;
    my $sl = shift @lines;
    my ($status) = $sl =~ m{^HTTP/\d\.\d (\d{3})};
    my %h;
    for (@lines) {
        push @{$h{lc $1}}, $2 if /^([^:]+):\s*(.*?)\s*$/;
    }
    return ($status, \%h, $sl);
}

sub _read_body {
    my ($self, $headers, $deadline) = @_;
    my $len = $headers->{'content-length'}[0];
    return '' unless defined $len;
    while (length $self->{buf} < $len) {
        return undef unless $self->_fill($deadline);
    }
    return substr($self->{buf}, 0, $len, '');
}

# Ask the /_pid probe location (keepalive) which worker holds this
# connection; later requests on the connection go to the same worker.
sub probe_pid {
    my ($self) = @_;
    $self->send_raw("GET /_pid HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    my $deadline = time + scaled($self->{timeout});
    my $head = $self->_read_head($deadline) // return undef;
    my ($st, $h) = $self->_parse_head($head);
    my $body = $self->_read_body($h, $deadline);
    return undef unless defined $st && $st == 200 && defined $body;
    $self->{pid} = $body + 0;
    return $self->{pid};
}

# Build a handshake request. Options:
#   method (GET), proto (HTTP/1.1), host ("127.0.0.1:<port>"),
#   upgrade (websocket), connection (Upgrade), version (13),
#   key (random valid), origin (none) -- pass undef to omit a header,
#   headers => [[name, value], ...] appended.
sub request_bytes {
    my ($self, $path, %o) = @_;
    my %d = (
        method => 'GET', proto => 'HTTP/1.1',
        host => "127.0.0.1:$self->{port}",
        upgrade => 'websocket', connection => 'Upgrade', version => '13',
        key => random_key(), origin => undef,
    );
    for (keys %d) { $d{$_} = $o{$_} if exists $o{$_} }
    $self->{key} = $d{key};
    my $r = "$d{method} $path $d{proto}\r\n";
    $r .= "Host: $d{host}\r\n" if defined $d{host};
    $r .= "Upgrade: $d{upgrade}\r\n" if defined $d{upgrade};
    $r .= "Connection: $d{connection}\r\n" if defined $d{connection};
    $r .= "Sec-WebSocket-Key: $d{key}\r\n" if defined $d{key};
    $r .= "Sec-WebSocket-Version: $d{version}\r\n" if defined $d{version};
    $r .= "Origin: $d{origin}\r\n" if defined $d{origin};
    $r .= "$_->[0]: $_->[1]\r\n" for @{$o{headers} // []};
    $r .= "\r\n";
    return $r;
}

# Send the handshake (plus optional pipelined bytes in the same write:
# pipeline => $bytes) and read the response head. Returns the status.
# raw => $bytes sends exactly those bytes as the request instead.
sub handshake {
    my ($self, $path, %o) = @_;
    my $req = defined $o{raw} ? $o{raw} : $self->request_bytes($path, %o);
    $req .= $o{pipeline} if defined $o{pipeline};
    $self->send_raw($req);
    my $deadline = time + scaled($o{timeout} // $self->{timeout});
    my $head = $self->_read_head($deadline);
    unless (defined $head) {
        $self->{status} = undef;
        $self->{headers} = {};
        return undef;
    }
    $self->{response} = $head;
    ($self->{status}, $self->{headers}) = $self->_parse_head($head);
    return $self->{status};
}

### frames ###

# Frame bytes. Options: opcode (1), payload (''), fin (1), rsv (0..7),
# mask (1), mask_key (random), len (declared length override),
# len_form (7 | 16 | 64: force a length encoding).
sub frame {
    my (%o) = @_;
    my $op = $o{opcode} // 1;
    my $payload = $o{payload} // '';
    my $fin = $o{fin} // 1;
    my $rsv = $o{rsv} // 0;
    my $mask = $o{mask} // 1;
    my $len = $o{len} // length $payload;
    my $form = $o{len_form}
        // ($len < 126 ? 7 : $len < 65536 ? 16 : 64);

    my $b0 = ($fin ? 0x80 : 0) | (($rsv & 7) << 4) | ($op & 0x0f);
    my $m = $mask ? 0x80 : 0;
    my $f = chr $b0;
    if ($form == 7) {
        $f .= chr($m | $len);
    } elsif ($form == 16) {
        $f .= chr($m | 126) . pack('n', $len);
    } else {
        $f .= chr($m | 127) . pack('Q>', $len);
    }
    if ($mask) {
        my $key = $o{mask_key}
            // join('', map { chr int rand 256 } 1 .. 4);
        $f .= $key;
        my $k = $key x (int(length($payload) / 4) + 1);
        $payload = $payload ^ substr($k, 0, length $payload);
    }
    return $f . $payload;
}

sub close_payload {
    my ($code, $reason) = @_;
    return '' unless defined $code;
    return pack('n', $code) . ($reason // '');
}

sub send_frame {
    my ($self, %o) = @_;
    return $self->send_raw(frame(%o));
}

sub send_text { my ($s, $p, %o) = @_; $s->send_frame(%o, opcode => 1, payload => $p) }
sub send_binary { my ($s, $p, %o) = @_; $s->send_frame(%o, opcode => 2, payload => $p) }
sub send_ping { my ($s, $p, %o) = @_; $s->send_frame(%o, opcode => 9, payload => $p // '') }
sub send_pong { my ($s, $p, %o) = @_; $s->send_frame(%o, opcode => 10, payload => $p // '') }

# send_close() = empty close; send_close($code [, $reason]).
sub send_close {
    my ($self, $code, $reason, %o) = @_;
    return $self->send_frame(%o, opcode => 8,
        payload => close_payload($code, $reason));
}

# A message split into fragments: send_fragments($opcode, @parts).
sub fragments_bytes {
    my ($op, @parts) = @_;
    my $b = '';
    for my $i (0 .. $#parts) {
        $b .= frame(opcode => $i == 0 ? $op : 0, payload => $parts[$i],
            fin => $i == $#parts ? 1 : 0);
    }
    return $b;
}

sub send_fragments {
    my ($self, $op, @parts) = @_;
    return $self->send_raw(fragments_bytes($op, @parts));
}

# One frame from the server: {fin, rsv, opcode, masked, payload}; {eof => 1}
# on EOF; undef on timeout. A masked server frame fails the test.
sub read_frame {
    my ($self, $timeout) = @_;
    return $self->read_frame_by(time + scaled($timeout // $self->{timeout}));
}

# read_frame with an absolute deadline (time() value, not scaled).
sub read_frame_by {
    my ($self, $deadline) = @_;
    while (1) {
        my $f = $self->_parse_frame;
        return $f if $f;
        my $r = $self->_fill($deadline);
        return { eof => 1 } if defined $r && $r == 0;
        return undef unless defined $r;
    }
}

sub _parse_frame {
    my ($self) = @_;
    my $b = \$self->{buf};
    return undef if length $$b < 2;
    my ($b0, $b1) = unpack 'CC', $$b;
    my $len = $b1 & 0x7f;
    my $off = 2;
    if ($len == 126) {
        return undef if length $$b < 4;
        $len = unpack 'n', substr($$b, 2, 2);
        $off = 4;
    } elsif ($len == 127) {
        return undef if length $$b < 10;
        $len = unpack 'Q>', substr($$b, 2, 8);
        $off = 10;
    }
    my $masked = $b1 & 0x80;
    my $key;
    if ($masked) {
        return undef if length $$b < $off + 4;
        $key = substr($$b, $off, 4);
        $off += 4;
    }
    return undef if length $$b < $off + $len;
    my $payload = substr($$b, $off, $len);
    substr($$b, 0, $off + $len, '');
    if ($masked) {
        my $k = $key x (int($len / 4) + 1);
        $payload ^= substr($k, 0, $len);
        Test::More::ok(0, 'server frames must not be masked');
    }
    return {
        fin => ($b0 & 0x80) ? 1 : 0, rsv => ($b0 >> 4) & 7,
        opcode => $b0 & 0x0f, masked => $masked ? 1 : 0,
        payload => $payload,
    };
}

# Next message: data messages reassembled from fragments ({opcode,
# payload, frames}); a close frame as {opcode => 8, code, reason, payload};
# pings and pongs are skipped and kept in ->{control} unless
# control => 1. {eof => 1} on EOF, undef on timeout.
sub read_message {
    my ($self, $timeout, %o) = @_;
    my $deadline = time + scaled($timeout // $self->{timeout});
    while (1) {
        my $f = $self->read_frame_by($deadline);
        return $f if !defined $f || $f->{eof};
        my $op = $f->{opcode};
        if ($op == 9 || $op == 10) {
            return $f if $o{control};
            push @{$self->{control}}, $f;
            next;
        }
        if ($op == 8) {
            my $p = $f->{payload};
            $f->{code} = length $p >= 2 ? unpack('n', $p) : undef;
            $f->{reason} = length $p >= 2 ? substr($p, 2) : '';
            return $f;
        }
        if ($op == 1 || $op == 2) {
            if ($self->{partial}) {
                Test::More::diag('server started a data frame inside a '
                    . 'fragmented message');
            }
            $self->{partial} = { opcode => $op, payload => $f->{payload},
                frames => 1 };
        } elsif ($op == 0) {
            unless ($self->{partial}) {
                Test::More::diag('server sent a continuation frame with no '
                    . 'message started');
                return { opcode => 0, payload => $f->{payload}, error => 1 };
            }
            $self->{partial}{payload} .= $f->{payload};
            $self->{partial}{frames}++;
        } else {
            return $f;    # unknown opcode from the server
        }
        if ($f->{fin}) {
            my $m = delete $self->{partial};
            return $m;
        }
    }
}

# Next close frame as (code, reason); code undef for an empty close.
# Returns () if a data message, EOF or nothing arrives first.
sub read_close {
    my ($self, $timeout) = @_;
    my $m = $self->read_message($timeout);
    return () unless $m && !$m->{eof} && $m->{opcode} == 8;
    return ($m->{code}, $m->{reason});
}

# Pings/pongs seen and skipped by read_message.
sub control_frames { @{$_[0]{control}} }

1;
