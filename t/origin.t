#!/usr/bin/perl

# Origin rules: same-origin default, signaller_origin regexes (unanchored,
# repeatable, any), inheritance, and where 403 sits in the check order.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Signaller::Test;

my $t = Signaller::Test->new(workers => 1)->require_module;
$t->run(<<'EOF');
server {
    %%LISTEN%%
    location / { signaller on; }
    location /re/ {
        signaller on;
        signaller_origin 'good\.example\.com';
    }
    location /multi/ {
        signaller on;
        signaller_origin '^https://a\.example$';
        signaller_origin '^https://b\.example$';
    }
    location /any/ {
        signaller on;
        signaller_origin any;
    }
}
server {
    %%LISTEN_1%%
    signaller_origin '^http://srv\.example$';
    location / { signaller on; }
    location /over/ { signaller on; signaller_origin any; }
}
EOF

my $port = $t->port;
my $port1 = $t->port(1);

# status of a listen on a fresh handle under $base (Signaller::Test::ws_status)
sub listen_st {
    my ($base, %o) = @_;
    return $t->ws_status("$base/listen/" . $t->handle, %o);
}

### same-origin rule (no signaller_origin) ###

is(listen_st(''), 101, 'no Origin: admitted');
is(listen_st('', origin => "http://127.0.0.1:$port"), 101,
    'Origin equal to Host: 101');
is(listen_st('', origin => "https://127.0.0.1:$port"), 101,
    'scheme ignored: 101');
is(listen_st('', host => 'Example.COM:8080',
    origin => 'http://example.com:8080'), 101, 'case ignored (Host)');
is(listen_st('', host => 'example.com:8080',
    origin => 'HTTP://EXAMPLE.com:8080'), 101, 'case ignored (Origin)');
is(listen_st('', host => 'example.com', origin => 'https://example.com'),
    101, 'no port on either side: 101');
is(listen_st('', origin => 'http://127.0.0.1:1'), 403, 'other port: 403');
is(listen_st('', origin => 'http://127.0.0.1'), 403, 'port missing: 403');
is(listen_st('', origin => 'http://evil.example'), 403, 'other host: 403');
is(listen_st('', origin => "http://127.0.0.1:$port.evil"), 403,
    'Host as prefix of the Origin host: 403');
is(listen_st('', origin => "http://x127.0.0.1:$port"), 403,
    'Host as suffix of the Origin host: 403');
is(listen_st('', origin => 'null'), 403, 'Origin null: 403');
is(listen_st('', host => 'example.com',
    origin => 'https://example.com.evil'), 403, 'longer host: 403');
is($t->ws_status('/connect/' . $t->handle, origin => 'http://evil.example'),
    403, '/connect checked too: 403');

### signaller_origin <regex> ###

is(listen_st('/re'), 403, 'regex: missing Origin refused');
is(listen_st('/re', origin => 'http://good.example.com'), 101,
    'regex: match');
is(listen_st('/re', origin => 'http://notgood.example.com.evil'), 101,
    'regex: unanchored match admits');
is(listen_st('/re', origin => 'http://bad.example.com'), 403,
    'regex: no match');
is(listen_st('/re', origin => 'http://goodXexample.com'), 403,
    'regex: escaped dot honoured');
is(listen_st('/re', origin => "http://127.0.0.1:$port"), 403,
    'regex replaces the same-origin rule');

is(listen_st('/multi', origin => 'https://a.example'), 101,
    'repeated: first matches');
is(listen_st('/multi', origin => 'https://b.example'), 101,
    'repeated: second matches');
is(listen_st('/multi', origin => 'https://c.example'), 403,
    'repeated: none matches');
is(listen_st('/multi', origin => 'https://a.example.evil'), 403,
    'repeated: anchors honoured');
is(listen_st('/multi'), 403, 'repeated: missing Origin refused');

is(listen_st('/any'), 101, 'any: missing Origin admitted');
is(listen_st('/any', origin => 'http://whatever.example'), 101,
    'any: foreign Origin admitted');
is(listen_st('/any', origin => 'null'), 101, 'any: null admitted');

### inheritance ###

is(listen_st('', port => $port1, origin => 'http://srv.example'), 101,
    'server-level regex inherited: match');
is(listen_st('', port => $port1, origin => 'http://other.example'), 403,
    'server-level regex inherited: no match');
is(listen_st('', port => $port1), 403,
    'server-level regex inherited: missing Origin');
is(listen_st('/over', port => $port1, origin => 'http://other.example'),
    101, 'location-level any overrides');

### order ###

is($t->ws_status('/connect/' . $t->handle, origin => 'http://evil.example'),
    403, 'bad Origin + no listener: 403 before 404');
is(listen_st('', origin => 'http://evil.example', key => 'abc'), 400,
    'bad Origin + bad key: 400');
is(listen_st('', origin => 'http://evil.example', version => '8'), 426,
    'bad Origin + bad version: 426');
is(listen_st('', origin => 'http://evil.example', method => 'POST'), 405,
    'bad Origin + POST: 405');

{
    my $h = $t->handle;
    my $l = $t->ws("/listen/$h");
    is($l->status, 101, 'listener');
    is($t->ws_status("/listen/$h", origin => 'http://evil.example'), 403,
        'bad Origin + duplicate listen: 403 before 409');
    is($t->ws_status("/connect/$h", origin => 'http://evil.example'), 403,
        'connect with bad Origin: 403');
    $l->send_text('still here');
    my $c = $t->ws("/connect/$h");
    is($c->status, 101, 'listener still waiting after a 403 connect');
    msg_is($c, OP_TEXT, 'still here', 'relay works after the 403');
    finish_pipe($l, $c, 'after 403');
}

$t->stop;
done_testing;
