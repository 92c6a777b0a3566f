#!/usr/bin/perl

# The Debian package that `make deb` builds, installed into the system as
# a user would: apt-get installs it, its maintainer scripts (dh_nginx's)
# enable the module with a symlink in /etc/nginx/modules-enabled/, and
# Debian's own /usr/sbin/nginx, with a configuration that includes
# /etc/nginx/modules-enabled/*.conf, loads the module through the
# package's snippet (not the repository's build) and relays pairs, and
# serves signaller.js from the package's directory with alias.  Then
# apt-get remove (the symlink set aside as .removed) and purge, after
# which nothing of the package is left.
#
# Needs root (it installs into the system) and the .deb, which this test
# does not build: build/libnginx-mod-http-signaller_<version>_<arch>.deb
# from `make deb` (or SIGNALLER_DEB=path); it skips otherwise.  A package
# installed before the test is purged first and not put back.  Whatever
# happens, the END block stops nginx and purges the package if this test
# installed it.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Cwd qw(abs_path);
use HTTP::Tiny;
use Test::More;
use Time::HiRes qw(time sleep);
use Signaller::Test;

my $repo = abs_path("$FindBin::Bin/..");
my $pkg = 'libnginx-mod-http-signaller';
my $nginx = '/usr/sbin/nginx';
my $so = '/usr/lib/nginx/modules/ngx_http_signaller_module.so';
my $available = '/usr/share/nginx/modules-available/mod-http-signaller.conf';
my $enabled = '/etc/nginx/modules-enabled/50-mod-http-signaller.conf';
my $js_dir = '/usr/share/javascript/signaller';
my $doc_dir = "/usr/share/doc/$pkg";
my @js = qw(signaller.js signaller.mjs signaller.d.ts);

sub slurp {
    my ($path) = @_;
    open my $fh, '<:raw', $path or return undef;
    local $/;
    return scalar <$fh>;
}

# (exit code, stdout and stderr together) of a command, no shell.  The
# command runs to its end whatever signal this test gets meanwhile (an
# apt-get or dpkg cut short leaves dpkg's database half done): in a
# process group of its own, out of reach of a terminal's ^C, and a signal
# to this process is acted on when the command is over.
sub run_cmd {
    my (@cmd) = @_;
    my $pending;
    my $ret = do {
        local @SIG{qw(INT TERM HUP)} = (sub { $pending //= $_[0] }) x 3;
        my $pid = open(my $fh, '-|') // die "fork: $!\n";
        if (!$pid) {
            setpgrp(0, 0);
            open STDERR, '>&', \*STDOUT;
            open STDIN, '<', '/dev/null';
            exec @cmd or exit 127;
        }
        local $/;
        my $out = <$fh> // '';
        close $fh;
        [$? >> 8, $out];
    };
    kill $pending, $$ if $pending;
    return @$ret;
}

sub apt_get {
    local $ENV{DEBIAN_FRONTEND} = 'noninteractive';
    return run_cmd('apt-get', '-y', '-o', 'DPkg::Lock::Timeout=300',
        '-o', 'Dpkg::Use-Pty=0', @_);
}

# "<status> <version>", '' when dpkg knows nothing of the package
sub pkg_state {
    my ($rc, $out) = run_cmd('dpkg-query', '-W',
        '-f=${Status} ${Version}', $pkg);
    return $rc == 0 ? $out : '';
}

# installed or with configuration files left (anything but purged)
sub pkg_present {
    my $s = pkg_state();
    return $s ne '' && $s !~ /^\S+ \S+ not-installed /;
}

sub purge { return apt_get('purge', $pkg) }

my $why = $> != 0
        ? 'needs root: installs the package into the system'
    : !-x '/usr/bin/apt-get' || !-x '/usr/bin/dpkg-query'
        ? 'needs apt-get and dpkg (Debian)'
    : !-x $nginx ? "no Debian nginx at $nginx"
    : ($ENV{NGINX} && $ENV{NGINX} ne $nginx) || $ENV{SIGNALLER_MODULE}
        ? 'NGINX or SIGNALLER_MODULE is set (sanitize, valgrind): they are'
            . " for the module as built; the package's runs in $nginx"
    : undef;
plan(skip_all => $why) if $why;

my ($version) = (slurp("$repo/debian/changelog") // '') =~ /^\S+ \(([^)]+)\)/;
chomp(my $arch = `dpkg --print-architecture`);
my $deb = $ENV{SIGNALLER_DEB}
    // "$repo/build/${pkg}_" . ($version // '?') . "_$arch.deb";
plan(skip_all => "no $deb: run make deb first (this test builds nothing)")
    unless -f $deb;
$deb = abs_path($deb);
$version = (run_cmd('dpkg-deb', '-f', $deb, 'Version'))[1] =~ s/\s+//gr;

# ask for a build if the .deb is older than what goes into it
{
    my @newer = grep { -f "$repo/$_" && -M "$repo/$_" < -M $deb }
        'config', 'ngx_http_signaller_module.c', @js,
        map { substr $_, length("$repo/") }
            glob("$repo/src/*.[ch] $repo/debian/*");
    diag("$deb is older than @newer: make deb") if @newer;
}

my ($t, $installed, $prefix);

END {
    local $?;
    # the clean-up goes to its end
    local @SIG{qw(INT TERM HUP)} = ('IGNORE') x 3;
    if ($t) {
        $t->stop(check => 0);
        # the harness removes its prefix: not through this link
        unlink "$prefix/modules" if $prefix && -l "$prefix/modules";
    }
    if ($installed && pkg_present()) {
        my ($rc, $out) = purge();
        print STDERR "# END: apt-get purge $pkg failed:\n$out" if $rc;
    }
}
$SIG{$_} = sub { die "killed by SIG$_[0]\n" } for qw(INT TERM HUP);

### install ###

if (pkg_present()) {
    diag("$pkg was installed (" . pkg_state() . '): purged first, and not'
        . ' put back after the test');
    $installed = 1;
    my ($rc, $out) = purge();
    is($rc, 0, 'purge the package installed before') or diag($out);
}

$installed = 1;
my ($rc, $out) = apt_get('install', '--no-install-recommends',
    '--reinstall', '--allow-downgrades', $deb);
unless (is($rc, 0, "apt-get install $deb")) {
    diag($out);
    done_testing;
    exit 1;
}
is(pkg_state(), "install ok installed $version", "dpkg: $version installed");

# the dependency on the ABI of the nginx it was built against, which the
# installed nginx provides
{
    my (undef, $dep) = run_cmd('dpkg-query', '-W', '-f=${Depends}', $pkg);
    my ($abi) = (slurp('/usr/share/nginx/src/debian/libnginx-mod.abisubstvars')
        // '') =~ /^nginx:abi=(\S+)/m;
    $abi //= 'nginx-abi-(none in nginx-dev)';
    like($dep, qr/(^|, )\Q$abi\E(,|$)/, "Depends: $abi ($dep)");
    my (undef, $provides) = run_cmd('dpkg-query', '-W', '-f=${Provides}',
        'nginx');
    like($provides, qr/(^|, )\Q$abi\E(,|$)/, "the installed nginx provides it");
}

# the files, and nothing outside the package's places
my @files;
{
    my (undef, $list) = run_cmd('dpkg-query', '-L', $pkg);
    @files = grep { m{^/} && !-d } split /\n/, $list;
    my @outside = grep {
        !m{^(?:/usr/lib/nginx/modules|/usr/share/nginx/modules-available
            |\Q$js_dir\E|\Q$doc_dir\E)/}x
    } @files;
    is_deeply(\@outside, [], 'files only in the module, snippet, JavaScript'
        . ' and doc directories');
}
ok(-f $so, "module: $so");
is(slurp($available), "load_module modules/ngx_http_signaller_module.so;\n",
    "snippet: $available");
is(readlink($enabled), $available, "enabled: $enabled -> $available");
for my $f (@js) {
    my $want = slurp("$repo/$f");
    ok(defined $want && (slurp("$js_dir/$f") // "") eq $want,
        "$js_dir/$f: the repository's $f");
}
ok(-f "$doc_dir/copyright", "$doc_dir/copyright");

### Debian's nginx, the module loaded by the package's snippet ###

$t = Signaller::Test->new(workers => 2);
$prefix = $t->prefix;
# load_module's relative path is the prefix's modules/, which in Debian's
# prefix (/usr/share/nginx) is a link to /usr/lib/nginx/modules
symlink('/usr/lib/nginx/modules', "$prefix/modules")
    or die "symlink: $!\n";
$t->run(<<'EOF', load_module => '',
server {
    %%LISTEN%%

    location /signal/ {
        signaller on;
    }

    # the browser library, from the package
    location /signaller/ {
        alias /usr/share/javascript/signaller/;
        types {
            application/javascript js mjs;
        }
    }
}
EOF
    main => "include /etc/nginx/modules-enabled/*.conf;\n");

# the module mapped in the master and the workers is the package's
for my $pid ($t->master_pid, $t->worker_pids) {
    my @maps = grep { /signaller/ } split /\n/, slurp("/proc/$pid/maps") // '';
    my %paths = map { (split ' ', $_, 6)[5] // '' => 1 } @maps;
    is_deeply([sort keys %paths], [$so], "pid $pid has $so mapped, no other");
}

for my $layout ($t->layouts) {
    my $n = "pair ($layout worker)";
    my $h = $t->handle;
    my $l = $t->ws("/signal/listen/$h", probe => 1);
    is($l->status, 101, "$n: listener 101");
    is($l->header('sec-websocket-accept'), $l->expected_accept,
        "$n: listener's Sec-WebSocket-Accept");
    my $c = $t->ws("/signal/connect/$h", $t->layout_opts($layout, $l));
    is($c->status, 101, "$n: connector 101");
    $c->send_text("offer \xc3\xa9");
    msg_is($l, OP_TEXT, "offer \xc3\xa9", "$n: connector to listener");
    $l->send_binary("answer\x00\xff");
    msg_is($c, OP_BINARY, "answer\x00\xff", "$n: listener to connector");
    finish_pipe($l, $c, $n);
    my $until = time + scaled(2);
    sleep 0.02 while $t->access_log($h) < 2 && time < $until;
    is_deeply([sort map { $_->{status} } $t->access_log($h)], [101, 101],
        "$n: access log: 101 for both");
}

{
    my $http = HTTP::Tiny->new(timeout => scaled(5));
    my $base = 'http://127.0.0.1:' . $t->port . '/signaller';
    for my $f (@js) {
        my $r = $http->get("$base/$f");
        is($r->{status}, 200, "GET /signaller/$f: 200");
        ok(($r->{content} // '') eq slurp("$repo/$f"),
            "GET /signaller/$f: the repository's bytes ("
            . length($r->{content}) . ')');
        next if $f =~ /\.d\.ts$/;
        is($r->{headers}{'content-type'}, 'application/javascript',
            "GET /signaller/$f: application/javascript");
    }
}

$t->stop;
unlink "$prefix/modules";
undef $t;

### remove, then purge ###

($rc, $out) = apt_get('remove', $pkg);
is($rc, 0, "apt-get remove $pkg") or diag($out);
like(pkg_state(), qr/^deinstall ok config-files /, 'dpkg: config-files');
ok(!-e $enabled && !-l $enabled, "remove: no $enabled");
is(readlink("$enabled.removed"), $available,
    "remove: the link set aside as $enabled.removed");
ok(!-e $_, "remove: no $_") for $so, $available, map { "$js_dir/$_" } @js;

($rc, $out) = purge();
is($rc, 0, "apt-get purge $pkg") or diag($out);
$installed = 0;
($rc, $out) = run_cmd('dpkg', '-s', $pkg);
ok($rc != 0 && $out =~ /is not installed/, 'dpkg -s: not installed')
    or diag($out);
is(pkg_state(), '', 'dpkg knows nothing of it');
ok(!-l $_ && !-e $_, "purge: no $_") for $enabled, "$enabled.removed";
is_deeply([grep { -e || -l } @files, $js_dir, $doc_dir], [],
    "purge: none of the package's " . @files . ' files left');

done_testing;
