#!/usr/bin/perl

# Signed handles (issue 12): with signaller_secret, /listen/<h> and
# /connect/<h> need ?token=<expiry>.<mac>, mac the unpadded base64url of
# HMAC-SHA256(secret, "<role>:<handle>:<expiry>"), valid while now <
# expiry. Tokens are computed here, in Perl; one section checks that
# tools/signaller-token mints the same ones. Every refusal reason for
# both roles and what the error log says about it (never the mac);
# rotation, file=, inheritance, signaller_refusal close, where the token
# check sits in the order of checks, configuration errors.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Digest::SHA qw(hmac_sha256);
use MIME::Base64 qw(encode_base64url);
use Test::More;
use Time::HiRes qw(time sleep);
use Signaller::Test;

my $S = 's3cret-one';
my $TOOL = "$FindBin::Bin/../tools/signaller-token";

# token for $role on $handle; $expiry is used as the exact string
sub mac { encode_base64url(hmac_sha256("$_[1]:$_[2]:$_[3]", $_[0])) }
sub tok { my ($s, $role, $h, $exp) = @_; "$exp." . mac($s, $role, $h, $exp) }
sub later { int(time) + ($_[0] // 3600) }
sub other { $_[0] eq 'listen' ? 'connect' : 'listen' }

my $t = Signaller::Test->new(workers => 1)->require_module;
$t->write_file('secret.txt', "file-secret\n");
$t->write_file('secret2.txt', "file-secret-2 \t\r\n");
$t->run(<<'EOF');
server {
    %%LISTEN%%
    location / {
        signaller on;
        signaller_secret s3cret-one;
    }
    location /rot/ {
        signaller on;
        signaller_secret old-secret;
        signaller_secret new-secret;
    }
    location /file/ {
        signaller on;
        signaller_secret file=%%PREFIX%%/secret.txt;
    }
    location /file2/ {
        signaller on;
        signaller_secret file=%%PREFIX%%/secret2.txt;
    }
    location /close/ {
        signaller on;
        signaller_secret s3cret-one;
        signaller_refusal close;
    }
    location /origin/ {
        signaller on;
        signaller_secret s3cret-one;
        signaller_origin '^https://good\.example$';
    }
}
server {
    %%LISTEN_1%%
    signaller_secret srv-secret;
    location / { signaller on; }
    location /own/ { signaller on; signaller_secret own-secret; }
}
server {
    %%LISTEN_2%%
    location / { signaller on; }
}
EOF

my @P = map { $t->port($_) } 0 .. 2;
my @macs;    # every mac sent: none may appear in our log messages

# Lines of our token message for $role "$h", waiting up to 2 s for $n.
sub token_lines {
    my ($role, $h, $n) = @_;
    my $re = qr/signaller: token refused for \Q$role\E "\Q$h\E"/;
    my $until = time + scaled(2);
    my @l;
    while (1) {
        @l = $t->grep_log($re);
        return @l if @l >= $n || time > $until;
        sleep 0.05;
    }
}

# our part of a log line: nginx appends ", client: ..." (with the request
# line, hence the token) to it
sub ours { (split /, client: /, $_[0], 2)[0] }

sub logged {
    my ($role, $h, $reason, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my @l = token_lines($role, $h, 1);
    is(scalar @l, 1, "$name: one log line") or return;
    my $want = qq{signaller: token refused for $role "$h": $reason};
    like(ours($l[0]), qr/\[info\] \d+#\d+: \*\d+ \Q$want\E$/,
        "$name: logged '$reason'");
}

sub path {
    my ($role, $h, $token, %o) = @_;
    push @macs, $1 if defined $token && $token =~ /([A-Za-z0-9_-]{43})/;
    return ($o{base} // '') . "/$role/$h"
        . (defined $token ? "?token=$token" : ($o{query} // ''));
}

# a refused handshake: 403, and the reason logged
sub refused {
    my ($role, $h, $token, $reason, $name, %o) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    is($t->ws_status(path($role, $h, $token, %o), %o), 403, "$name: 403");
    logged($role, $h, $reason, $name) if defined $reason;
}

sub admitted {
    my ($role, $h, $token, $name, %o) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    is($t->ws_status(path($role, $h, $token, %o), %o), 101, "$name: 101");
}

# listener and connector with their tokens (secrets $ls, $cs), both 101,
# a message each way, closed
sub pair_ok {
    my ($ls, $cs, $name, %o) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $h = $o{handle} // $t->handle;
    my $exp = later();
    my $lt = exists $o{ltok} ? $o{ltok} : tok($ls, 'listen', $h, $exp);
    my $ct = exists $o{ctok} ? $o{ctok} : tok($cs, 'connect', $h, $exp);
    my $l = $t->ws(path('listen', $h, $lt, %o), %o);
    is($l->status, 101, "$name: listener 101") or return;
    my $c = $t->ws(path('connect', $h, $ct, %o), %o);
    is($c->status, 101, "$name: connector 101") or return;
    $l->send_text("to connector $h");
    msg_is($c, OP_TEXT, "to connector $h", "$name: listener -> connector");
    $c->send_binary("to listener $h");
    msg_is($l, OP_BINARY, "to listener $h", "$name: connector -> listener");
    finish_pipe($l, $c, $name);
}

### valid tokens ###

pair_ok($S, $S, 'valid tokens');
{
    my $h = $t->handle;
    my $exp = later();
    my ($lt, $ct) = (tok($S, 'listen', $h, $exp), tok($S, 'connect', $h,
        $exp));
    pair_ok($S, $S, 'other query arguments ignored',
        handle => $h, query => undef,
        ltok => "$lt&x=1", ctok => "$ct&token2=y");
    my $l = $t->ws("/listen/$h?a=b&token=$lt&c=d");
    is($l->status, 101, 'token not the first argument: 101');
    close_listener($l, 'token not first');
}
{
    # leading zeros: the mac covers the expiry string as sent
    my $h = $t->handle;
    my $exp = '00' . later();
    admitted('listen', $h, tok($S, 'listen', $h, $exp),
        'expiry with leading zeros, mac over that string');
    $h = $t->handle;
    refused('listen', $h, "$exp." . mac($S, 'listen', $h, $exp + 0),
        'bad signature', 'leading zeros, mac over the number');
    $h = $t->handle;
    my $l = $t->ws(path('listen', $h, tok($S, 'listen', $h, '1' . '0' x 18)));
    is($l->status, 101, '19-digit expiry: 101');
    close_listener($l, '19 digits');
}

### refusals, for both roles ###

for my $role ('listen', 'connect') {
    my $h;
    my $r = "[$role]";
    $h = $t->handle;
    refused($role, $h, tok($S, other($role), $h, later()), 'wrong role',
        "$r token for the other role");
    $h = $t->handle;
    refused($role, $h, tok($S, $role, $t->handle, later()), 'bad signature',
        "$r token for another handle");
    $h = $t->handle;
    refused($role, $h, tok($S, $role, $h, int(time) - 1), 'expired',
        "$r expired (now - 1)");
    $h = $t->handle;
    refused($role, $h, tok($S, $role, $h, 1), 'expired', "$r expired (1)");
    $h = $t->handle;
    refused($role, $h, tok('another', $role, $h, later()), 'bad signature',
        "$r another secret");
    {
        $h = $t->handle;
        my $tk = tok($S, $role, $h, later());
        my $i = 10;
        my $ch = substr($tk, -43 + $i, 1) eq 'A' ? 'B' : 'A';
        substr($tk, -43 + $i, 1, $ch);
        refused($role, $h, $tk, 'bad signature', "$r one mac char changed");
    }
    {
        $h = $t->handle;
        my ($e1, $e2) = (later(), later(7200));
        refused($role, $h, "$e2." . mac($S, $role, $h, $e1), 'bad signature',
            "$r expiry changed");
    }
    {
        # 32 bytes: the 43rd character carries 2 unused bits; an encoding
        # that sets them is not the base64url of the mac
        $h = $t->handle;
        my $tk = tok($S, $role, $h, later());
        my $last = substr($tk, -1);
        my $abc = join '', 'A' .. 'Z', 'a' .. 'z', 0 .. 9, '-', '_';
        substr($tk, -1, 1, substr($abc, index($abc, $last) ^ 1, 1));
        is($t->ws_status(path($role, $h, $tk)), 403,
            "$r non-canonical last mac character: 403");
        my @l = token_lines($role, $h, 1);
        like(ours($l[0] // ''), qr/: (?:bad signature|malformed)$/,
            "$r non-canonical last mac character: logged");
    }

    my $exp = later();
    my %bad = (
        'no dot' => sub { $exp . mac($S, $role, $_[0], $exp) },
        'mac only' => sub { mac($S, $role, $_[0], $exp) },
        'empty expiry' => sub { '.' . mac($S, $role, $_[0], '') },
        'non-digit expiry' => sub { tok($S, $role, $_[0], "${exp}a") },
        'negative expiry' => sub { tok($S, $role, $_[0], "-$exp") },
        '20-digit expiry' => sub { tok($S, $role, $_[0], '1' . '0' x 19) },
        'mac 42 chars' => sub { substr(tok($S, $role, $_[0], $exp), 0, -1) },
        'mac 44 chars' => sub { tok($S, $role, $_[0], $exp) . 'A' },
        'padded mac' => sub { tok($S, $role, $_[0], $exp) . '=' },
        'empty mac' => sub { "$exp." },
        'standard base64 alphabet' => sub {
            my $tk = tok($S, $role, $_[0], $exp);
            substr($tk, -20, 1, '+');
            $tk;
        },
        'percent-encoded dot' => sub {
            (my $tk = tok($S, $role, $_[0], $exp)) =~ s/\./%2E/;
            $tk;
        },
        'two dots' => sub { "$exp." . tok($S, $role, $_[0], $exp) },
    );
    for my $k (sort keys %bad) {
        $h = $t->handle;
        refused($role, $h, $bad{$k}->($h), 'malformed', "$r malformed: $k");
    }

    $h = $t->handle;
    refused($role, $h, undef, 'missing', "$r no query");
    $h = $t->handle;
    refused($role, $h, undef, 'missing', "$r other arguments only",
        query => '?x=1&tokens=' . tok($S, $role, $h, later()));
    $h = $t->handle;
    refused($role, $h, undef, 'missing', "$r xtoken= is not token=",
        query => '?xtoken=' . tok($S, $role, $h, later()));
}

### expiry == now is expired ###

{
    # start of a second: nginx's clock (updated after each epoll_wait)
    # reads the same second when the request comes
    sleep 0.01 while time - int(time) > 0.2;
    my $now = int(time);
    my $h = $t->handle;
    refused('listen', $h, tok($S, 'listen', $h, $now), 'expired',
        'expiry == now');
    my $h2 = $t->handle;
    my $l = $t->ws(path('listen', $h2, tok($S, 'listen', $h2, $now + 1)));
    is($l->status, 101, 'expiry == now + 1: 101');
    close_listener($l, 'now + 1');
  SKIP: {
        skip 'the second ended during the test', 1 if int(time) != $now;
        pass('both requests within the same second');
    }
}

### the table comes after the token ###

{
    my $h = $t->handle;
    is($t->ws_status(path('connect', $h, tok($S, 'connect', $h, later()))),
        404, 'valid connect token, nobody listening: 404');
    refused('connect', $h, tok($S, 'connect', $h, 1), 'expired',
        'expired connect token, nobody listening: 403, not 404');
    my $l = $t->ws(path('listen', $h, tok($S, 'listen', $h, later())));
    is($l->status, 101, 'a listener');
    is($t->ws_status(path('listen', $h, tok($S, 'listen', $h, later()))),
        409, 'valid token on a taken handle: 409');
    is($t->ws_status(path('listen', $h, undef)), 403,
        'no token on a taken handle: 403, not 409');
    my $c = $t->ws(path('connect', $h, tok($S, 'connect', $h, later())));
    is($c->status, 101, 'the listener still pairs');
    finish_pipe($l, $c, 'after refusals');
}

### order: route, method, upgrade, origin before the token ###

{
    is($t->ws_status('/listen/Bad-Handle'), 404, 'bad handle, no token: 404');
    is($t->ws_status('/listen/ab'), 404, 'short handle, no token: 404');
    is($t->ws_status('/talk/' . $t->handle), 404, 'bad route: 404');
    my $h = $t->handle;
    is($t->ws_status("/listen/$h", method => 'POST'), 405,
        'POST, no token: 405');
    is($t->ws_status("/listen/$h", version => 12), 426,
        'bad version, no token: 426');
    is($t->ws_status("/listen/$h", key => 'short'), 400,
        'bad key, no token: 400');
    is($t->ws_status("/origin/listen/$h", origin => 'https://evil.example'),
        403, 'bad Origin, no token: 403');
    is($t->ws_status("/origin/listen/$h", origin => 'https://evil.example',
        method => 'POST'), 405, 'bad Origin, POST: 405');
    refused('connect', $h, undef, 'missing', 'good Origin, no token',
        base => '/origin', origin => 'https://good.example');
    sleep 0.2;
    is(scalar(token_lines('listen', $h, 0)), 0,
        'no token line for the requests refused before the token check');
    pair_ok($S, $S, 'good Origin, valid tokens', base => '/origin',
        origin => 'https://good.example');
}

### rotation ###

pair_ok('old-secret', 'new-secret', 'rotation: old + new', base => '/rot');
pair_ok('new-secret', 'old-secret', 'rotation: new + old', base => '/rot');
{
    my $h = $t->handle;
    refused('listen', $h, tok('third-secret', 'listen', $h, later()),
        'bad signature', 'rotation: a third secret', base => '/rot');
    $h = $t->handle;
    refused('connect', $h, tok($S, 'connect', $h, later()), 'bad signature',
        "rotation: the parent's secret", base => '/rot');
    $h = $t->handle;
    refused('listen', $h, tok('new-secret', 'connect', $h, later()),
        'wrong role', 'rotation: wrong role with the 2nd secret',
        base => '/rot');
}

### file= ###

pair_ok('file-secret', 'file-secret', 'file=, trailing newline stripped',
    base => '/file');
pair_ok('file-secret-2', 'file-secret-2', 'file=, trailing " \t\r\n"',
    base => '/file2');
{
    my $h = $t->handle;
    refused('listen', $h, tok("file-secret\n", 'listen', $h, later()),
        'bad signature', 'file=: the newline is not part of it',
        base => '/file');
}

### inheritance ###

pair_ok('srv-secret', 'srv-secret', "server's secret in a location",
    port => $P[1]);
{
    my $h = $t->handle;
    refused('listen', $h, tok($S, 'listen', $h, later()), 'bad signature',
        "other server's secret", port => $P[1]);
    $h = $t->handle;
    refused('listen', $h, undef, 'missing', "server's secret: token needed",
        port => $P[1]);
}
pair_ok('own-secret', 'own-secret', 'a location with its own secret',
    base => '/own', port => $P[1]);
{
    my $h = $t->handle;
    refused('listen', $h, tok('srv-secret', 'listen', $h, later()),
        'bad signature', "own secret replaces the server's", base => '/own',
        port => $P[1]);
}
pair_ok(undef, undef, 'no secret: no token needed', port => $P[2],
    ltok => undef, ctok => undef);
{
    my $h = $t->handle;
    admitted('listen', $h, 'garbage', 'no secret: a token is ignored',
        port => $P[2]);
    is(scalar(token_lines('listen', $h, 0)), 0, '... and not logged');
}

### signaller_refusal close ###

for my $role ('listen', 'connect') {
    my $h = $t->handle;
    for my $case (['missing', undef], ['expired', tok($S, $role, $h, 1)],
        ['wrong role', tok($S, other($role), $h, later())])
    {
        my $c = $t->ws(path($role, $h, $case->[1], base => '/close'));
        is($c->status, 101, "close [$role, $case->[0]]: 101");
        close_is($c, 4030, 'Forbidden', "close [$role, $case->[0]]");
    }
    my @l = token_lines($role, $h, 3);
    is_deeply([map { /: ([a-z ]+)$/ ? $1 : $_ } map { ours($_) } @l],
        ['missing', 'expired', 'wrong role'], "close [$role]: logged");
}
pair_ok($S, $S, 'signaller_refusal close: valid tokens', base => '/close');

### tools/signaller-token ###

SKIP: {
    skip 'no python3', 9 if system('python3 -c 1 2>/dev/null');
    my $h = $t->handle;
    my $exp = 2000000000;
    chomp(my $one = `python3 $TOOL --secret $S --expiry $exp listen $h`);
    is($one, tok($S, 'listen', $h, $exp), 'tool: python3 signaller-token');
    my $f = $t->prefix . '/secret.txt';
    chomp(my $two = `$TOOL --secret-file $f --expiry $exp connect $h`);
    is($two, tok('file-secret', 'connect', $h, $exp),
        'tool: run directly, --secret-file');
    chomp(my $env = `SIGNALLER_SECRET=$S $TOOL --expiry $exp connect $h`);
    is($env, tok($S, 'connect', $h, $exp), 'tool: $SIGNALLER_SECRET');

    chomp(my $lt = `$TOOL --secret $S listen $h`);
    my ($e) = $lt =~ /^(\d+)\.[A-Za-z0-9_-]{43}$/;
    ok($e && abs($e - (time + 3600)) <= 5, "tool: default ttl 1h ($lt)");
    chomp(my $ct = `$TOOL --secret $S --ttl 60 connect $h`);
    pair_ok($S, $S, 'tool: its tokens are accepted', handle => $h,
        ltok => $lt, ctok => $ct);

    my $err = `$TOOL --secret $S listen Bad-Handle 2>&1 >/dev/null`;
    is($? >> 8, 2, 'tool: bad handle: exit 2');
    is(scalar(() = $err =~ /\n/g), 1, 'tool: one line') or diag($err);
    system("$TOOL --secret $S talk $h 2>/dev/null");
    is($? >> 8, 2, 'tool: bad role: exit 2');
    system("env -u SIGNALLER_SECRET $TOOL listen $h 2>/dev/null");
    is($? >> 8, 2, 'tool: no secret: exit 2');
}

### our messages never carry the mac ###

{
    my @all = $t->grep_log(qr/signaller: token refused/);
    cmp_ok(scalar @all, '>', 60, scalar(@all) . ' token lines');
    my @leak = grep { my $o = ours($_); grep { index($o, $_) >= 0 } @macs }
        @all;
    is(scalar @leak, 0, 'no mac in our part of the lines') or diag(@leak);
    is(scalar(grep { ours($_) =~ /token=|\d{9,}\./ } @all), 0,
        'nor the token');

    # the module shows "token=..." in the request line once it has checked
    # it, so neither nginx's part of the lines nor $request carries it
    for my $log ('error.log', 'access.log') {
        my $text = $t->read_file($log);
        my @in = grep { index($text, $_) >= 0 } @macs;
        is(scalar @in, 0, "no mac anywhere in $log") or diag("@in");
    }
    like($t->read_file('access.log'), qr{\?token=\.\.\. HTTP/1\.1"},
        'the access log shows token=...');
}

$t->stop;

### configuration errors ###

{
    $t = Signaller::Test->new->require_module;
    my $empty = $t->write_file('empty.txt', '');
    my $blank = $t->write_file('blank.txt', "\r\n \t\n");
    my $good = $t->write_file('good.txt', "x\n");
    my $loc = sub {
        'server { listen 127.0.0.1:%%PORT%%; location / { signaller on; '
        . "$_[0] } }";
    };
    for my $ok ("signaller_secret a;", "signaller_secret a; "
        . "signaller_secret b; signaller_secret file=$good;")
    {
        my ($rc, $out) = $t->test_config($loc->($ok));
        is($rc, 0, "accepted: $ok") or diag($out);
    }
    my ($rc, $out) = $t->test_config("signaller_secret a; server { "
        . "listen 127.0.0.1:%%PORT%%; signaller_secret b; "
        . "location / { signaller on; } }");
    is($rc, 0, 'accepted: in http and server') or diag($out);

    for my $bad ('signaller_secret "";', 'signaller_secret file=;',
        "signaller_secret file=$t->{prefix}/nonexistent;",
        "signaller_secret file=$empty;", "signaller_secret file=$blank;",
        'signaller_secret a b;', 'signaller_secret;')
    {
        ($rc, $out) = $t->test_config($loc->($bad));
        isnt($rc, 0, "refused: $bad");
        like($out, qr/\[emerg\].*(?:signaller_secret|failed|empty)/,
            "... [emerg] saying why") or diag($out);
    }

    ok(!eval { $t->run($loc->("signaller_secret file=$t->{prefix}/nope;"));
        1 }, 'nginx does not start with a missing secret file');
    like($@, qr/\[emerg\]/, '... [emerg]');
    $t->allow_log(qr/\[emerg\].*(?:signaller_secret|nope)/);
    $t->check_logs;
}

done_testing;
