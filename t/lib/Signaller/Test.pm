package Signaller::Test;

# Test harness for ngx_http_signaller_module, in the spirit of nginx-tests'
# Test::Nginx but self-contained (core Perl only).
#
#   my $t = Signaller::Test->new(workers => 1);
#   $t->run(<<'EOF');                 # body of the http{} block
#   server {
#       %%LISTEN%%                    # listen 127.0.0.1:<free port> + /_pid probe
#       location / { signaller on; }
#   }
#   EOF
#   my ($l, $c) = $t->pair;           # listener + connector, both 101
#   ...
#   $t->stop;                         # SIGQUIT, wait, check error.log
#   done_testing;
#
#   $t->run($conf, full => 1);       # $conf is a whole nginx.conf (it
#                                     # must have `daemon off;`), only
#                                     # its placeholders expanded
#
#   $t->run($http, wrap => ['unshare', '--pid', '--fork']);
#                                     # nginx started by a command that runs
#                                     # it as its one child (signals go to
#                                     # that child, the master)
#
# Environment:
#   NGINX             nginx binary (default /usr/sbin/nginx)
#   SIGNALLER_MODULE  module .so (default <repo>/build/ngx_http_signaller_module.so)
#   SIGNALLER_WORKERS default worker_processes for tests that accept any layout
#   SIGNALLER_DEBUG   error_log level debug instead of info
#   SIGNALLER_KEEP    keep the temporary prefix (its path is printed)
#   SIGNALLER_ALLOW_SKIP  skip (instead of bail out) without nginx/module
#   SIGNALLER_TIME_SCALE  multiply the harness's deadlines and read timeouts
#                     (default 1; e.g. 10 with nginx under valgrind); tests
#                     scale their own time limits with scaled($secs)
#
# Workers are found without process titles (under valgrind they stay
# valgrind's command line): the children of the master pid (nginx runs with
# daemon off, so the harness knows it) are the workers; a worker still
# holding a listening socket is a current one, one that closed them (after
# a reload or during a graceful stop) is shutting down.
#
# Placeholders in configurations: %%PORT%% / %%PORT_<n>%% (n = 0..9, %%PORT%%
# is %%PORT_0%%), %%LISTEN%% / %%LISTEN_<n>%% (the `listen` directive for that
# port, with `reuseport` when workers > 1, followed by `location = /_pid`
# which answers the worker's pid; used to steer peers onto chosen workers),
# %%PREFIX%%.

use strict;
use warnings;

use Exporter qw(import);
use Config;
use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Copy qw(copy);
use File::Spec;
use File::Temp qw(tempdir);
use IO::Socket::INET;
use IO::Select;
use POSIX qw(:sys_wait_h);
use Socket qw(SOL_SOCKET SO_LINGER IPPROTO_TCP TCP_NODELAY);
use Time::HiRes qw(time sleep);
use Test::More;

use Signaller::Test::Client;

our @EXPORT = qw(
    OP_CONT OP_TEXT OP_BINARY OP_CLOSE OP_PING OP_PONG
    msg_is close_is no_frame eof_is finish_pipe close_listener
    within scaled time_scale
);

use constant {
    OP_CONT => 0, OP_TEXT => 1, OP_BINARY => 2,
    OP_CLOSE => 8, OP_PING => 9, OP_PONG => 10,
};

my $repo = abs_path(File::Spec->catdir(dirname(abs_path(__FILE__)),
    '..', '..', '..'));

our $NGINX = $ENV{NGINX} || '/usr/sbin/nginx';
our $MODULE = $ENV{SIGNALLER_MODULE}
    || "$repo/build/ngx_http_signaller_module.so";

sub scaled { return Signaller::Test::Client::scaled(@_) }
sub time_scale { return $Signaller::Test::Client::TIME_SCALE }

# a write to a socket the server has closed must fail, not kill the test
$SIG{PIPE} = 'IGNORE';

my @live;
my $handle_seq = 0;

sub new {
    my ($class, %o) = @_;

    my $keep = $ENV{SIGNALLER_KEEP};
    my $dir = tempdir('signaller-test-XXXXXX', TMPDIR => 1,
        CLEANUP => !$keep);
    chmod 0755, $dir;
    diag("prefix: $dir") if $keep;
    mkdir "$dir/$_" for qw(html logs temp);

    my $self = bless {
        prefix  => $dir,
        workers => $o{workers} // $ENV{SIGNALLER_WORKERS} // 1,
        ports   => [],
        pid     => undef,
        timeout => $o{timeout} // 3,
    }, $class;

    return $self;
}

sub prefix { $_[0]{prefix} }
sub workers { $_[0]{workers} }

sub has_module {
    return -f $MODULE;
}

# Stop the run unless nginx and the module exist (a suite that passes by
# skipping everything would hide a broken build); with SIGNALLER_ALLOW_SKIP
# set, skip the file instead.
sub require_module {
    my ($self) = @_;
    my $why = !-x $NGINX ? "no nginx at $NGINX"
        : !-f $MODULE ? "no module at $MODULE (run make)" : undef;
    return $self unless $why;
    plan(skip_all => $why) if $ENV{SIGNALLER_ALLOW_SKIP};
    BAIL_OUT($why);
}

sub port {
    my ($self, $n) = @_;
    $n //= 0;
    $self->{ports}[$n] //= _free_port($self->{ports});
    return $self->{ports}[$n];
}

# Ports below the kernel's ephemeral range: one inside it may be taken by
# any outgoing connection (a test's clients, a proxy's upstream) between
# this check and nginx's bind().
my ($ephemeral_low) = do {
    open my $fh, '<', '/proc/sys/net/ipv4/ip_local_port_range';
    split ' ', ($fh ? scalar <$fh> : '') // '';
};
$ephemeral_low = 32768 unless $ephemeral_low && $ephemeral_low > 12000;

sub _free_port {
    my ($taken) = @_;
    my %taken = map { defined $_ ? ($_ => 1) : () } @$taken;
    for (1 .. 200) {
        my $p = 10000 + int(rand($ephemeral_low - 10000));
        next if $taken{$p};
        my $s = IO::Socket::INET->new(
            LocalAddr => '127.0.0.1', LocalPort => $p, Proto => 'tcp',
            Listen => 1, ReuseAddr => 0,
        ) or next;
        close $s;
        # also make sure nobody is listening there already
        my $c = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
            PeerPort => $p, Proto => 'tcp', Timeout => 1);
        if ($c) { close $c; next; }
        return $p;
    }
    die "no free port found\n";
}

# The module is copied into the prefix once per test file: `make` rewrites
# build/*.so in place, which crashes every nginx that has it mapped, so a
# rebuild during a test run would otherwise kill running tests.
sub _load_module_line {
    my ($self) = @_;
    my $copy = "$self->{prefix}/modules/ngx_http_signaller_module.so";
    unless (-f $copy) {
        mkdir "$self->{prefix}/modules";
        copy($MODULE, "$copy.tmp") or die "copy $MODULE: $!\n";
        rename "$copy.tmp", $copy or die "rename: $!\n";
    }
    return "# $MODULE\nload_module $copy;\n";
}

sub _expand {
    my ($self, $text) = @_;

    $text =~ s{%%LISTEN(?:_(\d))?%%}{$self->_listen($1 // 0)}ge;
    $text =~ s{%%PORT(?:_(\d))?%%}{$self->port($1 // 0)}ge;
    $text =~ s{%%PREFIX%%}{$self->{prefix}}g;
    return $text;
}

sub _listen {
    my ($self, $n) = @_;
    my $port = $self->port($n);
    my $rp = $self->{workers} > 1 ? ' reuseport' : '';
    return "listen 127.0.0.1:$port$rp;\n"
        . "        location = /_pid { return 200 \"\$pid\"; }\n";
}

# Full nginx.conf around an http{} body.
sub conf_text {
    my ($self, $http, %o) = @_;
    my $p = $self->{prefix};
    my $level = $ENV{SIGNALLER_DEBUG} ? 'debug' : 'info';
    my $workers = $o{workers} // $self->{workers};
    my $main = $o{main} // '';
    my $module = exists $o{load_module} ? $o{load_module}
        : $self->_load_module_line;
    my $err = $o{error_log} // "$p/error.log";

    my $conf = <<"EOF";
${module}worker_processes $workers;
daemon off;
master_process on;
pid $p/nginx.pid;
error_log $err $level;
$main
events {
    worker_connections 1024;
}

http {
    log_format signaller '\$remote_addr:\$remote_port \$pid \$connection '
                         '"\$request" \$status \$request_time';
    access_log $p/access.log signaller;

    client_body_temp_path $p/temp/body;
    proxy_temp_path $p/temp/proxy;
    fastcgi_temp_path $p/temp/fastcgi;
    uwsgi_temp_path $p/temp/uwsgi;
    scgi_temp_path $p/temp/scgi;
    root $p/html;

$http
}
EOF
    return $self->_expand($conf);
}

# What run() and reload() write: conf_text() around an http{} body, or
# with full => 1 a whole nginx.conf, placeholders expanded.
sub _conf {
    my ($self, $text, %o) = @_;
    return $o{full} ? $self->_expand($text) : $self->conf_text($text, %o);
}

sub write_file {
    my ($self, $name, $content) = @_;
    my $path = "$self->{prefix}/$name";
    open my $fh, '>', $path or die "$path: $!";
    print $fh $content;
    close $fh;
    return $path;
}

sub read_file {
    my ($self, $name) = @_;
    my $path = $name =~ m{^/} ? $name : "$self->{prefix}/$name";
    open my $fh, '<', $path or return '';
    local $/;
    my $s = <$fh>;
    return $s // '';
}

# nginx -t on the given http body (or full conf with full => 1).
# Returns (exit status, combined output).
sub test_config {
    my ($self, $http, %o) = @_;
    my $p = $self->{prefix};
    my $conf = $o{full} ? $self->_expand($http)
        : $self->conf_text($http, error_log => "$p/t-error.log", %o);
    my $file = $self->write_file('t.conf', $conf);
    my $bin = $NGINX;
    local $ENV{NGINX};
    delete $ENV{NGINX};    # nginx reads it as inherited sockets
    my $out = `$bin -t -q -p $p/ -e $p/t-stderr.log -c $file 2>&1`;
    my $rc = $? >> 8;
    return wantarray ? ($rc, $out) : $rc;
}

sub run {
    my ($self, $http, %o) = @_;
    my $p = $self->{prefix};

    die "already running\n" if $self->{pid};

    $self->{conf} = $http;
    $self->{conf_opts} = \%o;
    my $file = $self->write_file('nginx.conf', $self->_conf($http, %o));

    my $pid = fork() // die "fork: $!";
    if ($pid == 0) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', "$p/stderr.log";
        open STDERR, '>>', "$p/stderr.log";
        # nginx reads $NGINX as a list of inherited listening sockets
        delete $ENV{NGINX};
        # if the test process dies by a signal (no END block), nginx gets
        # SIGTERM instead of living on: prctl(PR_SET_PDEATHSIG, SIGTERM)
        syscall(157, 1, 15) if $Config{archname} =~ /^x86_64-linux/;
        exec @{$o{wrap} // []}, $NGINX, '-p', "$p/", '-e', "$p/stderr.log",
            '-c', $file;
        exit 127;
    }
    $self->{pid} = $pid;
    $self->{master} = $o{wrap} ? undef : $pid;
    $self->{retired} = {};
    push @live, $self;

    my $deadline = time + scaled(10);
    my @ports = grep { defined } @{$self->{ports}};
    @ports = ($self->port) unless @ports;
    for my $port (@ports) {
        while (1) {
            if (waitpid($pid, WNOHANG) == $pid) {
                $self->{pid} = undef;
                my $err = $self->read_file('stderr.log')
                    . $self->read_file('error.log');
                die "nginx exited at start (wait status $?):\n$err";
            }
            my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                PeerPort => $port, Proto => 'tcp', Timeout => 1);
            if ($s) { close $s; last; }
            die "nginx did not start listening on $port\n" if time > $deadline;
            sleep 0.02;
        }
    }
    $self->wait_workers($self->{conf_opts}{workers} // $self->{workers});
    return $self;
}

# The master's pid, as seen from here; under a wrapper (run(wrap => ...)),
# the wrapper's child.
sub master_pid {
    my ($self) = @_;
    return undef unless $self->{pid};
    $self->{master} //= _child_pids($self->{pid}, 1);
    return $self->{master};
}

sub _child_pids {
    my ($ppid, $first) = @_;
    my @r;
    for (`ps -o pid=,stat= --ppid $ppid 2>/dev/null`) {
        push @r, $1 if /^\s*(\d+)\s+(\S+)/ && $2 !~ /^[ZX]/;
    }
    @r = sort { $a <=> $b } @r;
    return $first ? $r[0] : @r;
}

# Children of the master (its workers, current and shutting down; zombies
# left out), ascending pids. No process titles: see the top of the file.
sub _children {
    my ($self) = @_;
    my $master = $self->master_pid or return ();
    return _child_pids($master);
}

# inodes of the TCP sockets in LISTEN state
sub _listen_inodes {
    my %ino;
    for my $f ('/proc/net/tcp', '/proc/net/tcp6') {
        open my $fh, '<', $f or next;
        while (my $line = <$fh>) {    # not $_: callers' grep aliases it
            my @x = split ' ', $line;
            # sl local rem st tx:rx tr:when retrnsmt uid timeout inode
            $ino{$x[9]} = 1 if @x > 9 && $x[3] eq '0A';
        }
    }
    return \%ino;
}

# A current worker: holds a listening socket (a worker that is shutting
# down has closed them) and has finished its initialisation (the modules'
# init_process): the last step of that adds the worker's channel socket to
# its epoll instance, so its epoll watches a socket that does not listen.
# (Before that a worker is what its title "nginx: master process" said:
# not a worker yet.) undef if /proc cannot tell.
sub _current {
    my ($pid, $ino) = @_;
    opendir my $d, "/proc/$pid/fd" or return undef;
    my ($listens, @epoll);
    for my $fd (readdir $d) {
        my $l = readlink "/proc/$pid/fd/$fd" // next;
        $listens = 1 if $l =~ /^socket:\[(\d+)\]$/ && $ino->{$1};
        push @epoll, $fd if $l eq 'anon_inode:[eventpoll]';
    }
    return 0 unless $listens;
    for my $fd (@epoll) {
        open my $fh, '<', "/proc/$pid/fdinfo/$fd" or next;
        while (my $line = <$fh>) {
            next unless $line =~ /^tfd:\s*(\d+)/;
            my $l = readlink "/proc/$pid/fd/$1" // next;
            return 1 if $l =~ /^socket:\[(\d+)\]$/ && !$ino->{$1};
        }
    }
    return 0;
}

# pids of current (not shutting down) workers: children of the master that
# are current (above) and were not current before a reload() (retired)
sub worker_pids {
    my ($self) = @_;
    my $ino = _listen_inodes();
    my $retired = $self->{retired} // {};
    return grep { !$retired->{$_} && (_current($_, $ino) // 1) }
        $self->_children;
}

# pids of all workers, shutting-down ones included
sub all_worker_pids {
    my ($self) = @_;
    return $self->_children;
}

sub wait_workers {
    my ($self, $n, %o) = @_;
    my %old = map { $_ => 1 } @{$o{old} // []};
    my $deadline = time + scaled($o{timeout} // 10);
    while (time < $deadline) {
        my @w = grep { !$old{$_} } $self->worker_pids;
        return @w if @w >= $n;
        sleep 0.02;
    }
    return;
}

# Reload with an optional new http body. Returns the new worker pids (true)
# or an empty list if new workers did not come up in time.
sub reload {
    my ($self, $http, %o) = @_;
    die "not running\n" unless $self->{pid};
    if (defined $http) {
        $self->{conf} = $http;
        $self->{conf_opts} = { %{$self->{conf_opts}}, %o };
    }
    $self->write_file('nginx.conf',
        $self->_conf($self->{conf}, %{$self->{conf_opts}}));
    my @old = $self->all_worker_pids;
    kill 'HUP', $self->master_pid;
    my @new = $self->wait_workers(
        $self->{conf_opts}{workers} // $self->{workers}, old => \@old);
    return unless @new;
    # old workers: wait until they have exited or closed their listening
    # sockets; from now on they are never current again
    my %old = map { $_ => 1 } @old;
    my $deadline = time + scaled(5);
    while (time < $deadline) {
        last unless grep { $old{$_} } $self->worker_pids;
        sleep 0.02;
    }
    $self->{retired}{$_} = 1 for @old;
    sleep 0.05;
    return @new;
}

# Stop nginx (SIGQUIT, then SIGTERM, then SIGKILL) and check the logs.
# Returns the check result (a test is emitted unless check => 0).
sub stop {
    my ($self, %o) = @_;
    $self->_kill_master($o{signal} // 'QUIT', $o{timeout} // 10);
    @live = grep { $_ != $self } @live;
    return 1 if defined $o{check} && !$o{check};
    return $self->check_logs;
}

sub _kill_master {
    my ($self, $sig, $timeout) = @_;
    my $pid = $self->{pid} or return;
    my $master = $self->master_pid // $pid;
    my @workers = $self->all_worker_pids;
    for my $s ($sig, 'TERM', 'KILL') {
        kill $s, $master;
        my $deadline = time + scaled($s eq $sig ? $timeout : 5);
        while (time < $deadline) {
            if (waitpid($pid, WNOHANG) == $pid) {
                $self->{pid} = undef;
                $self->{master} = undef;
                $self->{exit_status} = $?;
                # workers exit with the master; don't leave strays
                kill 'KILL', grep { kill 0, $_ } @workers;
                return $s;
            }
            sleep 0.02;
        }
        diag("nginx master $pid did not exit on SIG$s");
    }
    return;
}

# Accept log lines matching $re in the check (e.g. the alert a kill -9 of
# a worker causes: qr/exited on signal 9/).
sub allow_log {
    my ($self, $re) = @_;
    push @{$self->{allow}}, $re;
    return $self;
}

sub bad_log_lines {
    my ($self) = @_;
    my @bad;
    for my $f ('error.log', 'stderr.log') {
        LINE: for (split /\n/, $self->read_file($f)) {
            for my $re (@{$self->{allow} // []}) {
                next LINE if /$re/;
            }
            push @bad, "$f: $_" if /\[(?:alert|emerg|crit)\]|AddressSanitizer
                |runtime\ error:|LeakSanitizer/x;
        }
    }
    return @bad;
}

sub check_logs {
    my ($self) = @_;
    my @bad = $self->bad_log_lines;
    my $ok = ok(!@bad, 'no alert/crit/emerg/sanitizer lines in logs');
    diag(join "\n", @bad) if @bad;
    return $ok;
}

# Lines of error.log matching a regex (for tests that expect a log line).
sub grep_log {
    my ($self, $re, $file) = @_;
    return grep { /$re/ } split /\n/, $self->read_file($file // 'error.log');
}

# Access log entries: list of {addr, pid, connection, request, status}.
# With a handle: only that handle's /listen and /connect requests.
sub access_log {
    my ($self, $handle) = @_;
    my @r;
    for (split /\n/, $self->read_file('access.log')) {
        next unless /^(\S+) (\d+) (\d+) "([^"]*)" (\d+)/;
        my %e = (addr => $1, pid => $2, connection => $3, request => $4,
            status => $5);
        next if defined $handle
            && $e{request} !~ m{/(?:listen|connect)/\Q$handle\E[?\s]};
        push @r, \%e;
    }
    return @r;
}

END {
    for my $t (@live) {
        $t->_kill_master('QUIT', 10);
        my @bad = $t->bad_log_lines;
        if (@bad) {
            my $tb = Test::More->builder;
            $tb->ok(0, 'no alert/crit/emerg/sanitizer lines in logs (END)');
            $tb->diag(join "\n", @bad);
        }
    }
    @live = ();
}

### clients ###

# Unique valid handle for this test file.
sub handle {
    my ($self) = @_;
    $handle_seq++;
    my @l = ('a' .. 'z');
    my $r = join '', map { $l[rand @l] } 1 .. 6;
    return "h${r}n$handle_seq";
}

# TCP connection to nginx, no request sent.
sub client {
    my ($self, %o) = @_;
    return Signaller::Test::Client->new(
        port => $o{port} // $self->port($o{port_n} // 0),
        timeout => $o{timeout} // $self->{timeout},
    );
}

# A connection on the worker the options name, steered by /_pid probes
# (it has served one if steered, and nothing else):
#   worker => pid      keep reconnecting until the connection is on this worker
#   not_worker => pid  ... on any other worker
#   port, port_n, timeout
# A probe that lands on a stopped worker waits for the timeout: steer
# before stopping one.
sub client_on {
    my ($self, %o) = @_;
    my $c = $self->client(%o);
    return $c unless defined $o{worker} || defined $o{not_worker};
    for my $try (1 .. 200) {
        my $pid = $c->probe_pid;
        last if defined $o{worker} && defined $pid && $pid == $o{worker};
        last if defined $o{not_worker} && defined $pid
            && $pid != $o{not_worker};
        die "cannot reach the wanted worker\n" if $try == 200;
        $c->close;
        $c = $self->client(%o);
    }
    return $c;
}

# Open a connection, perform the WebSocket handshake, return the client
# (check ->status). Options: see Signaller::Test::Client::handshake and
# client_on(), plus probe => 1 (learn the worker's pid first).
sub ws {
    my ($self, $path, %o) = @_;
    my $c = $self->client_on(%o);
    $c->probe_pid if $o{probe};
    $c->handshake($path, %o);
    return $c;
}

# Listener waiting on a handle (asserts nothing; check ->status).
sub listen_ws {
    my ($self, $handle, %o) = @_;
    my $base = $o{base} // '';
    return $self->ws("$base/listen/$handle", %o);
}

sub connect_ws {
    my ($self, $handle, %o) = @_;
    my $base = $o{base} // '';
    return $self->ws("$base/connect/$handle", %o);
}

# Status of a handshake ('none' if no response came); a 101 listener is
# closed cleanly (close 1000, its echo, EOF) before the connection is
# closed. Options: as for ws().
sub ws_status {
    my ($self, $path, %o) = @_;
    my $c = $self->ws($path, %o);
    my $s = $c->status;
    if (defined $s && $s == 101 && $path =~ m{/listen/}) {
        $c->send_close(1000);
        $c->read_message(2);
        $c->wait_eof(2);
    }
    $c->close;
    return $s // 'none';
}

# Layouts available for two-peer tests: 'same' always, 'cross' with
# several workers.
sub layouts {
    my ($self) = @_;
    return $self->{workers} > 1 ? ('same', 'cross') : ('same');
}

# ws() options that put a new connection on the same worker as $peer
# ('same') or on another one ('cross'); $peer must have been opened with
# probe => 1 (or by pair()). Nothing with one worker or no layout.
sub layout_opts {
    my ($self, $layout, $peer) = @_;
    return () unless $layout && $self->{workers} > 1 && defined $peer->pid;
    return $layout eq 'same' ? (worker => $peer->pid)
        : (not_worker => $peer->pid);
}

# A paired pipe: returns (listener, connector). Dies unless both got 101.
# Options: handle, base (location prefix), layout ('same' | 'cross' |
# undef = wherever), listener_opts / connector_opts (hashrefs for ws()),
# before => sub { my ($listener) = @_; ... } run before the connector comes.
sub pair {
    my ($self, %o) = @_;
    my $h = $o{handle} // $self->handle;
    my $base = $o{base} // '';
    my $layout = $o{layout} // '';
    my %lo = %{$o{listener_opts} // {}};
    my %co = %{$o{connector_opts} // {}};

    $lo{probe} = 1 if $layout && $self->{workers} > 1;
    my $l = $self->ws("$base/listen/$h", %lo);
    die "listen $h: status " . ($l->status // 'none') . "\n"
        unless ($l->status // 0) == 101;
    $o{before}->($l) if $o{before};
    if ($layout && $self->{workers} > 1) {
        if ($layout eq 'same') {
            $co{worker} = $l->{pid};
        } else {
            $co{not_worker} = $l->{pid};
        }
    }
    my $c = $self->ws("$base/connect/$h", %co);
    die "connect $h: status " . ($c->status // 'none') . "\n"
        unless ($c->status // 0) == 101;
    $l->{handle} = $c->{handle} = $h;
    return ($l, $c);
}

### assertions ###

sub _show {
    my ($s) = @_;
    return 'undef' unless defined $s;
    return length($s) . ' bytes' if length $s > 80;
    (my $e = $s) =~ s/([^\x20-\x7e])/sprintf('\\x%02x', ord $1)/ge;
    return "\"$e\"";
}

sub _desc {
    my ($m) = @_;
    return 'timeout (nothing received)' unless defined $m;
    return 'EOF' if $m->{eof};
    return "close " . (defined $m->{code} ? $m->{code} : '(empty)')
        . ' ' . _show($m->{reason}) if $m->{opcode} == OP_CLOSE;
    return "opcode $m->{opcode} payload " . _show($m->{payload});
}

# Next data message is ($opcode, $payload).
sub msg_is {
    my ($c, $op, $payload, $name, %o) = @_;
    my $m = $c->read_message($o{timeout});
    my $ok = defined $m && !$m->{eof} && $m->{opcode} == $op
        && $m->{payload} eq $payload;
    my $tb = Test::More->builder;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    $tb->ok($ok, $name);
    unless ($ok) {
        $tb->diag("expected opcode $op payload " . _show($payload));
        $tb->diag("got " . _desc($m));
        if (defined $m && defined $m->{payload}
            && length $m->{payload} > 80)
        {
            my $i = 0;
            $i++ while $i < length($payload) && $i < length($m->{payload})
                && substr($payload, $i, 1) eq substr($m->{payload}, $i, 1);
            $tb->diag("first difference at byte $i");
        }
    }
    return $ok;
}

# Next frame is a close frame with $code and $reason (code undef: empty
# close payload). Then (unless reply => 0) answer with a close frame and
# (unless eof => 0) expect the server to close TCP within 3 s.
sub close_is {
    my ($c, $code, $reason, $name, %o) = @_;
    my $tb = Test::More->builder;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $m = $c->read_message($o{timeout});
    my $ok = defined $m && !$m->{eof} && $m->{opcode} == OP_CLOSE
        && (defined $code
            ? (defined $m->{code} && $m->{code} == $code
                && $m->{reason} eq ($reason // ''))
            : $m->{payload} eq '');
    $tb->ok($ok, $name);
    unless ($ok) {
        $tb->diag("expected close " . ($code // '(empty)') . ' '
            . _show($reason // ''));
        $tb->diag("got " . _desc($m));
    }
    return $ok unless defined $m && !$m->{eof}
        && $m->{opcode} == OP_CLOSE;
    if ($o{reply} // 1) {
        $c->send_close(defined $m->{code} ? $m->{code} : undef);
    }
    if ($o{eof} // 1) {
        my $eof = $c->wait_eof(3);    # scaled by the client
        $tb->ok($eof, "$name: server closes TCP");
    }
    return $ok;
}

# Nothing (no frame, no EOF) arrives within $secs.
sub no_frame {
    my ($c, $secs, $name) = @_;
    my $tb = Test::More->builder;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $m = $c->read_message($secs);
    $tb->ok(!defined $m, $name);
    $tb->diag("got " . _desc($m)) if defined $m;
    return !defined $m;
}

# TCP EOF within $secs (data before it discarded).
sub eof_is {
    my ($c, $secs, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    return Test::More->builder->ok($c->wait_eof($secs), $name);
}

# End a paired pipe normally: the listener closes with 1000.
sub finish_pipe {
    my ($l, $c, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    $name //= 'pipe';
    $l->send_close(1000);
    close_is($l, 1000, 'Normal Closure', "$name: listener's 1000 echoed",
        reply => 0);
    close_is($c, 1000, 'Normal Closure', "$name: connector gets 1000");
}

# Close a single (waiting) peer with 1000 and expect the echo.
sub close_listener {
    my ($l, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    $l->send_close(1000);
    close_is($l, 1000, 'Normal Closure', ($name // 'close') . ': 1000 echoed',
        reply => 0);
}

# Run a block; return elapsed seconds.
sub within {
    my ($code) = @_;
    my $t0 = time;
    $code->();
    return time - $t0;
}

1;
