#!/usr/bin/perl

# The ICE servers endpoint (issue 12): signaller_ice_servers answers GET
# and HEAD with {"iceServers":[stun object, turn object]}, the TURN
# credentials those of coturn's use-auth-secret (username
# "<expiry>:<id>", credential base64(HMAC-SHA1(turn secret, username))),
# computed again here. Without signaller_secret <id> is random; with it
# the request needs ?handle=<h>&token=<listen or connect token for h> and
# <id> is the handle. Configuration errors.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Digest::SHA qw(hmac_sha1 hmac_sha256);
use IO::Select;
use JSON::PP;
use MIME::Base64 qw(encode_base64 encode_base64url);
use Test::More;
use Time::HiRes qw(time sleep);
use Signaller::Test;

my $TS = 'turn-secret';
my $S = 'tok-secret';
my @STUN = ('stun:stun.example.com:3478', 'stuns:stun.example.com:5349');
my @TURN = ('turn:turn.example.com:3478',
    'turns:turn.example.com:5349?transport=tcp');

sub tok {
    my ($s, $role, $h, $exp) = @_;
    return "$exp." . encode_base64url(hmac_sha256("$role:$h:$exp", $s));
}
sub later { int(time) + ($_[0] // 3600) }
sub cred { encode_base64(hmac_sha1($_[1], $_[0]), '') }

my $t = Signaller::Test->new(workers => 1)->require_module;
$t->write_file('turn.txt', "turn-file-secret\n");
$t->run(<<'EOF');
server {
    %%LISTEN%%
    signaller_turn_secret turn-secret;
    signaller_turn_uris turn:turn.example.com:3478
                        "turns:turn.example.com:5349?transport=tcp";
    signaller_stun_uris stun:stun.example.com:3478
                        stuns:stun.example.com:5349;
    location = /ice { signaller_ice_servers; }
    location = /ice10m { signaller_ice_servers; signaller_turn_ttl 10m; }
    location = /auth {
        signaller_ice_servers;
        signaller_secret tok-secret;
    }
    location = /auth-close {
        signaller_ice_servers;
        signaller_secret tok-secret;
        signaller_refusal close;
    }
}
server {
    %%LISTEN_1%%
    signaller_stun_uris stun:stun.example.net;
    location = /ice { signaller_ice_servers; }
}
server {
    %%LISTEN_2%%
    location = /ice {
        signaller_ice_servers;
        signaller_turn_secret file=%%PREFIX%%/turn.txt;
        signaller_turn_uris turn:t.example.net;
        signaller_turn_ttl 600s;
    }
}
EOF

my @P = map { $t->port($_) } 0 .. 2;

# One HTTP/1.0 request (no chunked body); {status, h => {lc name => value},
# body}.
sub req {
    my ($method, $path, %o) = @_;
    my $c = $t->client(port => $o{port} // $P[0]);
    $c->send_raw("$method $path HTTP/1.0\r\nHost: x\r\n"
        . ($method eq 'POST' ? "Content-Length: 2\r\n\r\n{}" : "\r\n"));
    my ($data, $sel) = ('', IO::Select->new($c->sock));
    my $until = time + scaled(3);
    while ($sel->can_read($until - time)) {
        my $n = sysread($c->sock, my $buf, 65536);
        next if !defined $n && $!{EAGAIN};
        last unless $n;
        $data .= $buf;
    }
    $c->close;
    my ($head, $body) = split /\r\n\r\n/, $data, 2;
    my ($st) = ($head // '') =~ m{^HTTP/1\.[01] (\d{3}) };
    my %h;
    for (split /\r\n/, $head // '') {
        $h{lc $1} = $2 if /^([^:]+):\s*(.*?)\s*$/;
    }
    return { status => $st // 'none', h => \%h, body => $body // '' };
}

# A 200 with the JSON headers; its body exactly the JSON for these uris
# and this turn secret (the username taken from the body itself), the
# username "<expiry>:<id>" with expiry now + $ttl (+-5 s), the id matching
# $id_re. Returns the id.
sub ice_ok {
    my ($r, $name, %o) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    is($r->{status}, 200, "$name: 200") or return;
    is($r->{h}{'content-type'}, 'application/json', "$name: Content-Type");
    is($r->{h}{'cache-control'}, 'no-store', "$name: Cache-Control");
    is($r->{h}{'content-length'}, length $r->{body}, "$name: Content-Length")
        if defined $r->{h}{'content-length'};
    my $j = eval { decode_json($r->{body}) };
    ok($j, "$name: JSON") or return diag("$@: $r->{body}");
    my @servers;
    push @servers, { urls => $o{stun} } if $o{stun};
    my ($user, $id);
    if ($o{turn}) {
        $user = eval { $j->{iceServers}[-1]{username} } // '';
        like($user, qr/^\d+:$o{id}$/, "$name: username ($user)");
        my ($exp) = $user =~ /^(\d+):(.*)$/ or return;
        $id = $2;
        my $want = time + $o{ttl};
        ok(abs($exp - $want) <= 5, "$name: expiry now + $o{ttl} ($exp)");
        push @servers, { urls => $o{turn}, username => $user,
            credential => cred($o{secret}, $user) };
    }
    is_deeply($j, { iceServers => \@servers }, "$name: content");
    my $urls = sub { '"urls":[' . join(',', map { "\"$_\"" } @{$_[0]}) . ']' };
    my @exact;
    push @exact, '{' . $urls->($o{stun}) . '}' if $o{stun};
    push @exact, '{' . $urls->($o{turn}) . ",\"username\":\"$user\","
        . '"credential":"' . cred($o{secret}, $user) . '"}' if $o{turn};
    my $exact = '{"iceServers":[' . join(',', @exact) . ']}';
    is($r->{body}, $exact, "$name: the exact bytes");
    return $id;
}

my %MAIN = (stun => \@STUN, turn => \@TURN, secret => $TS, ttl => 3600,
    id => qr/[0-9a-f]{16}/);

### without signaller_secret ###

{
    my $id1 = ice_ok(req('GET', '/ice'), 'GET', %MAIN);
    my $id2 = ice_ok(req('GET', '/ice'), 'GET again', %MAIN);
    ok($id1 && $id2 && $id1 ne $id2, "two requests, two ids ($id1, $id2)");
    ice_ok(req('GET', '/ice?handle=habcdef&token=x'), 'arguments ignored',
        %MAIN);
    ice_ok(req('GET', '/ice10m'), 'signaller_turn_ttl 10m', %MAIN,
        ttl => 600);

    my $r = req('HEAD', '/ice');
    is($r->{status}, 200, 'HEAD: 200');
    is($r->{h}{'content-type'}, 'application/json', 'HEAD: Content-Type');
    is($r->{h}{'cache-control'}, 'no-store', 'HEAD: Cache-Control');
    is($r->{body}, '', 'HEAD: no body');

    for my $m ('POST', 'PUT', 'DELETE', 'OPTIONS') {
        is(req($m, '/ice')->{status}, 405, "$m: 405");
    }

    ice_ok(req('GET', '/ice', port => $P[1]), 'stun uris only',
        stun => ['stun:stun.example.net']);
    ice_ok(req('GET', '/ice', port => $P[2]), 'turn uris only, file= secret',
        turn => ['turn:t.example.net'], secret => 'turn-file-secret',
        ttl => 600, id => qr/[0-9a-f]{16}/);
}

### with signaller_secret: ?handle=&token= ###

# Lines of our token message for ice.
sub ice_lines {
    return map { (split /, client: /, $_, 2)[0] }
        $t->grep_log(qr/signaller: token refused for ice /);
}

# 403, and one more log line, saying $reason for handle $shown
sub refused {
    my ($query, $shown, $reason, $name, %o) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $n = ice_lines();
    my $r = req('GET', ($o{path} // '/auth') . $query);
    is($r->{status}, 403, "$name: 403");
    my @l;
    my $until = time + scaled(2);
    sleep 0.05 while (@l = ice_lines()) <= $n && time < $until;
    is(scalar @l, $n + 1, "$name: one log line") or return;
    my $re = defined $shown ? qr/"\Q$shown\E"/ : qr/"[^"]*"/;
    my $want = qr/signaller: token refused for ice $re: \Q$reason\E/;
    like($l[-1], qr/\[info\] \d+#\d+: \*\d+ $want$/,
        "$name: logged '$reason'");
    unlike($l[-1], qr/[A-Za-z0-9_-]{43}/, "$name: no mac in our message");
}

{
    my $h = $t->handle;
    my %auth = (%MAIN, id => qr/\Q$h\E/);
    my $lt = tok($S, 'listen', $h, later());
    my $ct = tok($S, 'connect', $h, later());
    is(ice_ok(req('GET', "/auth?handle=$h&token=$lt"), 'listen token',
        %auth), $h, 'listen token: the id is the handle');
    ice_ok(req('GET', "/auth?token=$ct&handle=$h"), 'connect token', %auth);
    ice_ok(req('GET', "/auth?x=1&token=$ct&y=2&handle=$h&z"),
        'other arguments ignored', %auth);
    my $r = req('HEAD', "/auth?handle=$h&token=$lt");
    is($r->{status}, 200, 'HEAD with a token: 200');
    is($r->{body}, '', 'HEAD with a token: no body');
    is(req('POST', "/auth?handle=$h&token=$lt")->{status}, 405,
        'POST with a token: 405');

    refused('', '', 'missing', 'no arguments');
    refused("?token=$lt", '', 'malformed', 'no handle');
    refused("?handle=&token=$lt", '', 'malformed', 'empty handle');
    refused("?handle=$h", $h, 'missing', 'no token');
    refused("?handle=Bad-H&token=$lt", '', 'malformed', 'bad handle');
    unlike($t->read_file('access.log') . $t->read_file('error.log'),
        qr/\Q$lt\E/, 'a token beside a bad handle is not logged either');
    my $o = $t->handle;
    refused("?handle=$o&token=$lt", $o, 'bad signature',
        'a token for another handle');
    refused("?handle=$h&token=" . tok('other', 'listen', $h, later()), $h,
        'bad signature', 'another secret');
    refused("?handle=$h&token=" . tok($S, 'listen', $h, int(time) - 1), $h,
        'expired', 'expired listen token');
    refused("?handle=$h&token=" . tok($S, 'connect', $h, 1), $h, 'expired',
        'expired connect token');
    refused("?handle=$h&token=" . substr($lt, 0, -1), $h, 'malformed',
        'mac 42 chars');
    refused("?handle=$h&token=$lt=", $h, 'malformed', 'padded mac');
    for my $bad ('Bad-Handle', 'ab', 'a__b1', 'x' x 40) {
        refused("?handle=$bad&token=" . tok($S, 'listen', $bad, later()),
            undef, 'malformed', "handle '$bad'");
    }
    refused("?handle=$h&token=" . tok($S, 'listen', $h, 1), $h, 'expired',
        'signaller_refusal close: still a plain 403', path => '/auth-close');
}

$t->stop;

### configuration ###

{
    $t = Signaller::Test->new->require_module;
    my $sec = $t->write_file('s.txt', "x\n");
    my $srv = sub { "server { listen 127.0.0.1:%%PORT%%; $_[0] }" };
    my $loc = sub {
        $srv->("location = /ice { signaller_ice_servers; $_[0] }");
    };

    for my $ok (
        [$loc->('signaller_stun_uris stun:a stuns:b;'), 'stun uris only'],
        [$loc->('signaller_turn_secret x; signaller_turn_uris turn:a '
            . 'turns:b;'), 'turn uris only'],
        [$loc->("signaller_turn_secret file=$sec; signaller_turn_uris "
            . 'turn:a; signaller_turn_ttl 600s;'), 'file=, 600s'],
        ["signaller_turn_secret x; signaller_turn_uris turn:a; "
            . "signaller_stun_uris stun:a; signaller_turn_ttl 1h; "
            . $srv->('location = /ice { signaller_ice_servers; }'),
            'all four at http level'],
        [$srv->('signaller_turn_secret x; signaller_turn_uris turn:a; '
            . 'location = /ice { signaller_ice_servers; }'),
            'at server level'])
    {
        my ($rc, $out) = $t->test_config($ok->[0]);
        is($rc, 0, "accepted: $ok->[1]") or diag($out);
    }

    for my $bad (
        [$loc->('signaller_turn_uris turn:a;'), 'turn uris without a secret',
            qr/signaller_turn_secret/],
        [$loc->(''), 'ice_servers without uris', qr/signaller_stun_uris/],
        [$loc->('signaller_turn_secret x;'), 'a turn secret but no uris',
            qr/signaller_turn_uris/],
        [$loc->('signaller_turn_secret x; signaller_turn_uris http://a;'),
            'http:// in turn uris', qr{http://a|signaller_turn_uris}],
        [$loc->('signaller_turn_secret x; signaller_turn_uris turn:a '
            . 'stun:b;'), 'stun: in turn uris',
            qr/stun:b|signaller_turn_uris/],
        [$loc->('signaller_stun_uris stun:a turn:b;'), 'turn: in stun uris',
            qr/turn:b|signaller_stun_uris/],
        [$loc->('signaller_stun_uris stun:a; signaller_turn_ttl abc;'),
            'turn ttl abc', qr/signaller_turn_ttl|abc/],
        [$loc->('signaller_turn_secret file=/nonexistent; '
            . 'signaller_turn_uris turn:a;'), 'missing turn secret file',
            qr/nonexistent/])
    {
        my ($rc, $out) = $t->test_config($bad->[0]);
        isnt($rc, 0, "refused: $bad->[1]");
        like($out, qr/\[emerg\].*$bad->[2]/, "... [emerg] saying why")
            or diag($out);
        unlike($out, qr/unknown directive/, '... not an unknown directive');
    }
}

done_testing;
