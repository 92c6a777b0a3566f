package Signaller::Workers;

# Helpers for the multi-worker tests (workers.t, reload_workers.t, crash.t,
# zone.t): signaller_status parsing, access-log pairing, and a select()
# based multiplexer that drives many WebSocket clients at once (handshakes,
# writes and reads all non-blocking), so hundreds of pairs really run
# concurrently.
#
#   my $mux = Signaller::Workers::Mux->new;
#   my @l = $mux->open($t, map { "/listen/$_" } @handles);   # all at once
#   $mux->queue($l[0], text => 'hi');                        # frames queued
#   $mux->pump(sub { ... all done? }, 10);                   # select loop
#   $l[0]->{msgs}   # [{opcode, payload}], reassembled data messages
#   $l[0]->{close}  # {code, reason, payload} of the first close frame
#   $l[0]->{eof}    # TCP EOF seen
#
# Clients are Signaller::Test::Client objects (only new(), request_bytes(),
# frame() and the {sock}/{buf} fields are used); the frame parser is our
# own so that we never block on one socket.

use strict;
use warnings;

use Exporter qw(import);
use Errno qw(EAGAIN EWOULDBLOCK EINTR EINPROGRESS);
use IO::Select;
use Time::HiRes qw(time sleep);
use Test::More ();

use Signaller::Test::Client;

our @EXPORT_OK = qw(status status_line wait_status pair_pids
    utf8_bytes rand_bytes);

# GET a status location on a fresh connection; returns
# { zone => {waiting, workers, pages, free} } (empty on failure).
sub status {
    my ($t, %o) = @_;
    my $path = $o{path} // '/signaller_status';
    my $c = Signaller::Test::Client->new(port => $o{port} // $t->port,
        timeout => 3);
    $c->send_raw("GET $path HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        . "Connection: close\r\n\r\n");
    my $data = '';
    my $deadline = time + Signaller::Test::Client::scaled(3);
    my $sel = IO::Select->new($c->sock);
    while (time < $deadline) {
        last unless $sel->can_read($deadline - time);
        my $n = sysread($c->sock, my $chunk, 65536);
        next if !defined $n && ($! == EAGAIN || $! == EINTR);
        last unless $n;
        $data .= $chunk;
    }
    $c->close;
    my %r;
    my ($body) = $data =~ /\r\n\r\n(.*)\z/s;
    for (split /\n/, $body // '') {
        next unless /^(\S+) waiting (\d+) workers (\d+) pages (\d+) free (\d+)$/;
        $r{$1} = { waiting => $2, workers => $3, pages => $4, free => $5 };
    }
    return \%r;
}

# "waiting 0 workers 4 pages 254 free 251" for messages
sub status_line {
    my ($s) = @_;
    return 'no status' unless $s;
    return join ' ', map { "$_=$s->{$_}" } qw(waiting workers pages free);
}

# Poll status until $cond->($zone_status) is true; returns the last zone
# status (true or not) and, in list context, the time it took.
sub wait_status {
    my ($t, $zone, $cond, $timeout, %o) = @_;
    my $t0 = time;
    my $deadline = $t0 + Signaller::Test::Client::scaled($timeout // 3);
    my $s;
    while (1) {
        $s = status($t, %o)->{$zone};
        last if $s && $cond->($s);
        last if time > $deadline;
        sleep 0.05;
    }
    return wantarray ? ($s, time - $t0) : $s;
}

# For a handle: (listener pid, connector pid) from the access log (status
# 101 lines only); undef when a line is missing.
sub pair_pids {
    my ($t, $handle, @log) = @_;
    @log = $t->access_log unless @log;
    my ($lp, $cp);
    for my $e (@log) {
        next unless $e->{status} == 101;
        next unless $e->{request} =~ m{/(listen|connect)/\Q$handle\E[?\s]};
        if ($1 eq 'listen') { $lp = $e->{pid} } else { $cp = $e->{pid} }
    }
    return ($lp, $cp);
}

sub utf8_bytes {
    my ($s) = @_;
    utf8::encode($s);
    return $s;
}

my $urandom;

sub rand_bytes {
    my ($n) = @_;
    return '' unless $n;
    unless ($urandom) {
        open $urandom, '<:raw', '/dev/urandom' or die "/dev/urandom: $!";
    }
    my $got = read($urandom, my $b, $n);
    die "/dev/urandom: short read\n" unless $got && $got == $n;
    return $b;
}

package Signaller::Workers::Mux;

use strict;
use warnings;

use Errno qw(EAGAIN EWOULDBLOCK EINTR);
use IO::Select;
use Time::HiRes qw(time sleep);

sub new {
    my ($class) = @_;
    return bless { clients => [] }, $class;
}

sub clients { @{$_[0]{clients}} }

sub add {
    my ($self, @c) = @_;
    for my $c (@c) {
        $c->{out} //= '';
        $c->{msgs} //= [];
        $c->{pongs} //= [];
        push @{$self->{clients}}, $c;
    }
    return @c;
}

sub remove {
    my ($self, @c) = @_;
    my %gone = map { ("$_" => 1) } @c;
    $self->{clients} = [grep { !$gone{"$_"} } @{$self->{clients}}];
}

# Open one connection per path and send all handshakes before reading any
# response; returns the clients once every response head arrived (or the
# timeout passed: ->{status} stays undef). Options: port, timeout, and
# any Client::request_bytes option.
sub open {
    my ($self, $t, $paths, %o) = @_;
    my @c;
    for my $path (@$paths) {
        my $c = Signaller::Test::Client->new(port => $o{port} // $t->port,
            timeout => 3);
        $c->{path} = $path;
        $c->{want_head} = 1;
        $c->{out} = $c->request_bytes($path, %o);
        push @c, $c;
    }
    $self->add(@c);
    $self->pump(sub { !grep { $_->{want_head} && !$_->{eof} } @c },
        $o{timeout} // 10);
    return @c;
}

# Append frames to a client's output. Items: text => $s, binary => $s,
# ping => $s, close => [$code, $reason] (code undef: empty close),
# raw => $bytes, frag => [$opcode, @parts] (a fragmented message),
# frag_ping => [$opcode, $ping, @parts] (a ping between the first two
# fragments).
sub queue {
    my ($self, $c, @items) = @_;
    while (@items) {
        my ($k, $v) = splice @items, 0, 2;
        my $f = \&Signaller::Test::Client::frame;
        if ($k eq 'text') {
            $c->{out} .= $f->(opcode => 1, payload => $v);
        } elsif ($k eq 'binary') {
            $c->{out} .= $f->(opcode => 2, payload => $v);
        } elsif ($k eq 'ping') {
            $c->{out} .= $f->(opcode => 9, payload => $v);
        } elsif ($k eq 'close') {
            $c->{out} .= $f->(opcode => 8, payload =>
                Signaller::Test::Client::close_payload(@$v));
            $c->{sent_close} = 1;
        } elsif ($k eq 'raw') {
            $c->{out} .= $v;
        } elsif ($k eq 'frag' || $k eq 'frag_ping') {
            my ($op, @parts) = @$v;
            my $ping = $k eq 'frag_ping' ? shift @parts : undef;
            for my $i (0 .. $#parts) {
                $c->{out} .= $f->(opcode => $i == 0 ? $op : 0,
                    payload => $parts[$i], fin => $i == $#parts ? 1 : 0);
                $c->{out} .= $f->(opcode => 9, payload => $ping)
                    if defined $ping && $i == 0;
            }
        } else {
            die "queue: unknown item $k\n";
        }
    }
}

# select() loop over all clients until $done->() is true or $timeout
# seconds (scaled by SIGNALLER_TIME_SCALE) pass; returns $done->()'s last
# value.
sub pump {
    my ($self, $done, $timeout) = @_;
    my $deadline = time + Signaller::Test::Client::scaled($timeout // 10);
    while (1) {
        my $r = $done->();
        return $r if $r;
        my $left = $deadline - time;
        return $r if $left <= 0;
        my (%by, $rin, $win);
        $rin = $win = '';
        for my $c (@{$self->{clients}}) {
            next if $c->{eof} || !$c->{sock};
            my $fd = fileno $c->{sock};
            next unless defined $fd;
            $by{$fd} = $c;
            vec($rin, $fd, 1) = 1;
            vec($win, $fd, 1) = 1 if length $c->{out};
        }
        unless (%by) {
            sleep($left < 0.05 ? $left : 0.05);
            next;
        }
        my ($rout, $wout);
        my $n = select($rout = $rin, $wout = $win, undef,
            $left < 0.5 ? $left : 0.5);
        next if $n <= 0;
        for my $fd (keys %by) {
            my $c = $by{$fd};
            if (vec($wout, $fd, 1) && length $c->{out}) {
                my $w = syswrite($c->{sock}, $c->{out});
                if (defined $w) {
                    substr($c->{out}, 0, $w, '');
                } elsif ($! != EAGAIN && $! != EWOULDBLOCK && $! != EINTR) {
                    $c->{write_error} = "$!";
                    $c->{out} = '';
                }
            }
            if (vec($rout, $fd, 1)) {
                my $got = sysread($c->{sock}, my $chunk, 262144);
                if (!defined $got) {
                    next if $! == EAGAIN || $! == EWOULDBLOCK || $! == EINTR;
                    $c->{eof} = 1;
                    $c->{reset} = "$!";
                } elsif ($got == 0) {
                    $c->{eof} = 1;
                } else {
                    $c->{buf} .= $chunk;
                }
                $c->{eof_at} = time if $c->{eof};
                _parse($c);
            }
        }
    }
}

sub _parse {
    my ($c) = @_;
    if ($c->{want_head}) {
        return unless $c->{buf} =~ s/^(.*?\r\n)\r\n//s;
        my $head = $1;
        $c->{response} = $head;
        ($c->{status}) = $head =~ m{^HTTP/\d\.\d (\d{3})};
        $c->{want_head} = 0;
        # error responses may carry a body; it is not a frame
        if (($c->{status} // 0) != 101) {
            $c->{buf} = '';
            return;
        }
    }
    my $b = \$c->{buf};
    while (length $$b >= 2) {
        my ($b0, $b1) = unpack 'CC', $$b;
        my $len = $b1 & 0x7f;
        my $off = 2;
        if ($len == 126) {
            last if length $$b < 4;
            $len = unpack 'n', substr($$b, 2, 2);
            $off = 4;
        } elsif ($len == 127) {
            last if length $$b < 10;
            $len = unpack 'Q>', substr($$b, 2, 8);
            $off = 10;
        }
        if ($b1 & 0x80) {
            $c->{errors}{masked}++;
            $off += 4;
        }
        last if length $$b < $off + $len;
        my $payload = substr($$b, $off, $len);
        substr($$b, 0, $off + $len, '');
        my $op = $b0 & 0x0f;
        my $fin = $b0 & 0x80;
        $c->{errors}{rsv}++ if $b0 & 0x70;
        if ($op == 9) {
            push @{$c->{pings}}, $payload;
        } elsif ($op == 10) {
            push @{$c->{pongs}}, $payload;
        } elsif ($op == 8) {
            my %m = (payload => $payload, at => time);
            $m{code} = length $payload >= 2 ? unpack('n', $payload) : undef;
            $m{reason} = length $payload >= 2 ? substr($payload, 2) : '';
            if ($c->{close}) {
                $c->{errors}{second_close}++;
            } else {
                $c->{close} = \%m;
            }
        } elsif ($op == 1 || $op == 2) {
            $c->{errors}{data_in_fragment}++ if $c->{partial};
            $c->{errors}{data_after_close}++ if $c->{close};
            $c->{partial} = { opcode => $op, payload => $payload };
        } elsif ($op == 0) {
            unless ($c->{partial}) {
                $c->{errors}{stray_continuation}++;
                next;
            }
            $c->{partial}{payload} .= $payload;
        } else {
            $c->{errors}{"opcode $op"}++;
            next;
        }
        if (($op == 0 || $op == 1 || $op == 2) && $fin) {
            push @{$c->{msgs}}, delete $c->{partial};
        }
    }
}

1;
