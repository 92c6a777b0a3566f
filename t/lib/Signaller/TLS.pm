package Signaller::TLS;

# wss:// clients for the harness: a Signaller::Test::Client whose socket is
# an IO::Socket::SSL one, so that read_message(), msg_is(), close_is() and
# the rest work over TLS as over TCP, and a self-signed certificate.
#
#   my ($crt, $key) = Signaller::TLS::certificate($t);   # in the prefix
#   server { listen 127.0.0.1:%%PORT_1%% ssl reuseport;
#            ssl_certificate ...; ssl_certificate_key ...;
#            location = /_pid { return 200 "$pid"; } ... }
#   my $c = Signaller::TLS::ws($t, "/connect/$h", port_n => 1,
#       not_worker => $l->pid);                        # options as ws()

use strict;
use warnings;

use IO::Socket::SSL qw(SSL_VERIFY_NONE);
use Socket qw(IPPROTO_TCP TCP_NODELAY);
use Test::More ();

use Signaller::Test::Client;

our @ISA = ('Signaller::Test::Client');

# cert.pem and key.pem in the test's prefix (bails out without openssl)
sub certificate {
    my ($t) = @_;
    my $p = $t->prefix;
    system("openssl req -x509 -newkey rsa:2048 -nodes -keyout $p/key.pem"
        . " -out $p/cert.pem -days 2 -subj /CN=localhost 2>/dev/null") == 0
        or Test::More::BAIL_OUT('openssl cannot make a certificate');
    return ("$p/cert.pem", "$p/key.pem");
}

sub new {
    my ($class, %o) = @_;
    my $s = IO::Socket::SSL->new(
        PeerAddr => '127.0.0.1', PeerPort => $o{port},
        SSL_verify_mode => SSL_VERIFY_NONE,
        Timeout => Signaller::Test::Client::scaled(5),
    ) or die "tls connect 127.0.0.1:$o{port}: $IO::Socket::SSL::SSL_ERROR\n";
    setsockopt($s, IPPROTO_TCP, TCP_NODELAY, 1);
    # non-blocking: a record that is no data (a session ticket) must not
    # block a read past its deadline
    $s->blocking(0);
    return bless {
        sock => $s, port => $o{port}, buf => '', eof => 0,
        timeout => $o{timeout} // 3, control => [],
    }, $class;
}

# A wss:// handshake on port_n (default 1); worker / not_worker steer it
# with the /_pid probe (over TLS too), as the harness's ws() does.
sub ws {
    my ($t, $path, %o) = @_;
    my $port = $o{port} // $t->port($o{port_n} // 1);
    my $c = __PACKAGE__->new(port => $port, timeout => $o{timeout});
    if (defined $o{worker} || defined $o{not_worker} || $o{probe}) {
        for my $try (1 .. 200) {
            my $pid = $c->probe_pid;
            last if $o{probe} && !defined $o{worker}
                && !defined $o{not_worker};
            last if defined $o{worker} && defined $pid && $pid == $o{worker};
            last if defined $o{not_worker} && defined $pid
                && $pid != $o{not_worker};
            die "cannot reach the wanted worker over TLS\n" if $try == 200;
            $c->close;
            $c = __PACKAGE__->new(port => $port, timeout => $o{timeout});
        }
    }
    $c->handshake($path, %o);
    return $c;
}

1;
