#!/usr/bin/perl

# The README's code, as written there: the configuration and the three
# ways of minting a token in "Signed handles" (the command, Node, Python),
# and the configuration in "TURN credentials".  Only the secret files'
# paths are changed, to files in the test's prefix.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Digest::SHA qw(hmac_sha1);
use JSON::PP qw(decode_json);
use MIME::Base64 qw(encode_base64);
use Test::More;

use Signaller::Test;

my $repo = "$FindBin::Bin/..";
my $readme = do {
    open my $fh, '<', "$repo/README.md" or die "README.md: $!";
    local $/;
    <$fh>;
};

# the fenced blocks of one "### " section, by language
sub blocks {
    my ($title) = @_;
    my ($section) = $readme =~ /^### \Q$title\E[^\n]*\n(.*?)(?=^##)/ms
        or die "no section \"$title\" in README.md\n";
    my %b;
    while ($section =~ /^```(\w+)\n(.*?)^```$/msg) {
        push @{$b{$1}}, $2;
    }
    return \%b;
}

my $signed = blocks('Signed handles');
my $ice = blocks('TURN credentials');

for ([$signed, 'nginx', 1], [$signed, 'sh', 1], [$signed, 'js', 1],
     [$signed, 'python', 1], [$ice, 'nginx', 1])
{
    my ($b, $lang, $n) = @$_;
    is(scalar @{$b->{$lang} // []}, $n, "README: $n $lang block(s)");
}

my $t = Signaller::Test->new(workers => 2);
my $p = $t->prefix;
my $secret = 'the README secret';

$t->write_file('signaller.secret', "$secret\n");
$t->write_file('turn.secret', "turn secret\n");

(my $signal = $signed->{nginx}[0]) =~ s{/etc/nginx/}{$p/}g;
(my $turn = $ice->{nginx}[0]) =~ s{/etc/nginx/}{$p/}g;

$t->run(<<EOF);
server {
    %%LISTEN%%
$signal
$turn
}
EOF

# each way of minting, for a role and a handle
sub command {
    my ($role, $handle) = @_;
    (my $cmd = $signed->{sh}[0]) =~ s{/etc/nginx/}{$p/}g;
    $cmd =~ s{^tools/}{$repo/tools/};
    $cmd =~ s{\blisten alice\s*$}{$role $handle};
    my $token = `$cmd`;
    chomp $token;
    return $token;
}

sub node {
    my ($role, $handle) = @_;
    my $js = $signed->{js}[0]
        . "process.stdout.write(signallerToken(process.argv[1],"
        . " process.argv[2], process.argv[3]));\n";
    open my $fh, '-|', 'node', '-e', $js, $secret, $role, $handle
        or die "node: $!";
    local $/;
    return scalar <$fh>;
}

sub python {
    my ($role, $handle) = @_;
    my $py = $signed->{python}[0]
        . "import sys\n"
        . "print(signaller_token(sys.argv[1].encode(), sys.argv[2],"
        . " sys.argv[3]), end='')\n";
    open my $fh, '-|', '/usr/bin/python3', '-c', $py, $secret, $role,
        $handle or die "python3: $!";
    local $/;
    return scalar <$fh>;
}

SKIP: {
    skip 'node is not installed', 12 unless `node --version 2>/dev/null`;

    for my $mint ([command => \&command], [node => \&node],
                  [python => \&python])
    {
        my ($name, $f) = @$mint;
        my $h = $t->handle;
        my ($lt, $ct) = ($f->('listen', $h), $f->('connect', $h));

        like($lt, qr/^\d+\.[A-Za-z0-9_-]{43}$/, "$name: a token's shape");

        my $l = $t->ws("/signal/listen/$h?token=$lt");
        is($l->status, 101, "$name: its listen token admits");
        my $c = $t->ws("/signal/connect/$h?token=$ct");
        is($c->status, 101, "$name: its connect token admits");

        $c->send_text('offer');
        msg_is($l, 1, 'offer', "$name: relayed");
        $c->close;
        $l->close;
    }
}

# the ICE answer of the README's configuration, checked by an HMAC of our own

my $c = $t->client;
$c->send_raw("GET /ice-servers HTTP/1.1\r\nHost: x\r\n"
    . "Connection: close\r\n\r\n");
my $data = '';
my $until = time + scaled(3);
while (time < $until) {
    my $n = sysread($c->sock, my $buf, 65536);
    if (!defined $n) { select(undef, undef, undef, 0.01); next }
    last if $n == 0;
    $data .= $buf;
}
my ($head, $body) = split /\r\n\r\n/, $data, 2;
like($head // '', qr{^HTTP/1\.1 200 }, 'ice-servers: 200');
my $json = eval { decode_json($body // '') } // {};
my ($stun, $relay) = @{$json->{iceServers} // []};

is_deeply($stun, { urls => ['stun:turn.example.com:3478'] },
          'ice-servers: the STUN server');
is_deeply($relay->{urls}, ['turn:turn.example.com:3478?transport=udp',
                           'turns:turn.example.com:5349?transport=tcp'],
          'ice-servers: the TURN servers');
is($relay->{credential},
   encode_base64(hmac_sha1($relay->{username} // '', 'turn secret'), ''),
   'ice-servers: the credential is the HMAC of the username');

$t->stop;
done_testing;
