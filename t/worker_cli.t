# The worker daemon's command-line contract: options, exit statuses, settings
# errors, secrets kept out of the log, reconnecting while PostgreSQL and Redis
# refuse connections, and a prompt clean stop on SIGTERM (pidfile removed).
# Needs only the built binary, no httpd and no servers: 127.0.0.1 port 1
# refuses every connection.
use strict;
use warnings FATAL => 'all';

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Temp qw(tempdir);
use POSIX qw(WNOHANG);
use Time::HiRes qw(time sleep);
use Test::More;

my $top = $ENV{GC_TOP_DIR} // dirname(dirname(abs_path(__FILE__)));
my $bin = "$top/worker/gemclone-worker";
my $tmp = tempdir('gcw-cli-XXXXXX', TMPDIR => 1, CLEANUP => 1);

# Settings the worker reads from the environment: every run starts without
# them, so the suite's own environment cannot leak in.
my @ENV_KEYS = qw(DATABASE_URL REDIS_URL GEMINI_API_KEY GEMINI_API_BASE GEMINI_MODEL);

# Secrets that must never reach the log.
my $PG_PASS    = 'pg-pw-Xq7vK2';
my $REDIS_PASS = 'redis-pw-Zt9mW4';
my $API_KEY    = 'AIza-test-key-Lr5nB8';

my %REFUSED_ENV = (
    DATABASE_URL   => "postgresql://gc:$PG_PASS\@127.0.0.1:1/gemclone?connect_timeout=1",
    REDIS_URL      => "redis://:$REDIS_PASS\@127.0.0.1:1/0",
    GEMINI_API_KEY => $API_KEY,
    GEMINI_MODEL   => 'gemini-2.5-flash',
);

my @started;    # pids to kill if a test dies half-way
END { kill 'KILL', grep { $_ && kill 0, $_ } @started if @started }

sub slurp {
    my ($file) = @_;
    open my $fh, '<', $file or return '';
    local $/;
    return scalar <$fh>;
}

sub write_file {
    my ($file, $text) = @_;
    open my $fh, '>', $file or die "$file: $!";
    print {$fh} $text;
    close $fh or die "$file: $!";
    chmod 0600, $file;
    return $file;
}

# Starts the worker with args and env (added to a clean environment);
# stdout and stderr go to files. Returns the pid.
my $n = 0;
sub start {
    my ($args, $env) = @_;
    $n++;
    my ($out, $err) = ("$tmp/out.$n", "$tmp/err.$n");
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        delete @ENV{@ENV_KEYS};
        @ENV{keys %$env} = values %$env;
        open STDIN,  '<', '/dev/null' or die;
        open STDOUT, '>', $out or die;
        open STDERR, '>', $err or die;
        exec $bin, @$args or POSIX::_exit(127);
    }
    push @started, $pid;
    return ($pid, $out, $err);
}

# Waits up to $secs for pid to exit; returns its wait status, or undef.
sub wait_exit {
    my ($pid, $secs) = @_;
    my $until = time + $secs;
    while (time < $until) {
        return $? if waitpid($pid, WNOHANG) == $pid;
        sleep 0.02;
    }
    return undef;
}

# Runs the worker to completion (10 s at most); returns (exit code, stdout,
# stderr); the exit code is -1 if it had to be killed or died of a signal.
sub run_worker {
    my ($args, $env) = @_;
    my ($pid, $out, $err) = start($args, $env // {});
    my $st = wait_exit($pid, 10);
    if (!defined $st) {
        kill 'KILL', $pid;
        waitpid $pid, 0;
    }
    my $code = defined $st && ($st & 127) == 0 ? $st >> 8 : -1;
    return ($code, slurp($out), slurp($err));
}

# True while pid runs (a zombie left to a non-reaping init counts as gone).
sub alive {
    my ($pid) = @_;
    return 0 unless kill 0, $pid;
    my $stat = slurp("/proc/$pid/stat");
    return $stat !~ /^\d+ \(.*\) Z /s;
}

# Polls cond up to $secs; returns its last value.
sub eventually {
    my ($secs, $cond) = @_;
    my $until = time + $secs;
    my $v;
    until (($v = $cond->()) || time >= $until) { sleep 0.05 }
    return $v;
}

ok -x $bin, "worker binary is built ($bin)"
    or do { done_testing(); exit 1 };

# ---- --version, --help, bad usage --------------------------------------------
for my $opt ('--version', '-V') {
    my ($rc, $out, $err) = run_worker([$opt]);
    is $rc, 0, "$opt exits 0";
    like $out, qr/\Agemclone-worker \d+\.\d+\.\d+\n\z/, "$opt prints 'gemclone-worker <version>'";
}

{
    my ($rc, $out, $err) = run_worker(['--help']);
    is $rc, 0, '--help exits 0';
    like $out, qr/^Usage: gemclone-worker/m, '--help prints the usage on stdout';
    like $out, qr/--$_\b/, "--help lists --$_" for qw(config foreground pidfile help version);
    is $err, '', '--help writes nothing on stderr';
}

{
    my ($rc, $out, $err) = run_worker(['--no-such-option']);
    is $rc, 2, 'an unknown option exits 2';
    like $err, qr/^Usage: gemclone-worker/m, 'an unknown option prints the usage on stderr';
    is $out, '', 'an unknown option prints nothing on stdout';
}

{
    my ($rc, $out, $err) = run_worker(['stray-argument']);
    is $rc, 2, 'a stray argument exits 2';
    like $err, qr/stray-argument/, 'a stray argument is named';
}

# ---- bad settings: exit 2 and name the key ----------------------------------------
my $good_conf = <<"EOF";
# worker test settings (the environment overrides the URLs)
database_url = postgresql://gc\@127.0.0.1:2/from-file
redis_url    = redis://127.0.0.1:2/0
gemini_api_key = $API_KEY
gemini_model = gemini-2.5-flash
EOF

my @bad = (
    [ 'concurrency = abc',           qr/\bconcurrency\b/,          'non-numeric concurrency' ],
    [ 'concurrency = 0',             qr/\bconcurrency\b/,          'concurrency 0' ],
    [ 'max_attempts = 5x',           qr/\bmax_attempts\b/,         'max_attempts with junk' ],
    [ 'history_budget_chars = -1',   qr/\bhistory_budget_chars\b/, 'negative history_budget_chars' ],
    [ 'log_level = chatty',          qr/\blog_level\b/,            'unknown log_level' ],
    [ 'no_such_key = 1',             qr/\bno_such_key\b/,          'an unknown key' ],
    [ 'gemini_api_base = ftp://x',   qr/\bgemini_api_base\b/,      'a non-HTTP gemini_api_base' ],
    [ 'just some words',             qr/worker\.conf:\d+/,         'a line without "="' ],
    [ 'streaming = maybe',           qr/\bstreaming\b/,            'a non-boolean streaming' ],
    [ 'temperature = 3',             qr/\btemperature\b/,          'temperature above 2' ],
    [ 'lease_seconds = 0',           qr/\blease_seconds\b/,        'lease_seconds 0' ],
    [ 'consumer_name = "a b"',       qr/\bconsumer_name\b/,        'a consumer_name with a space' ],
);
for my $case (@bad) {
    my ($line, $re, $what) = @$case;
    my $conf = write_file("$tmp/worker.conf", "$good_conf$line\n");
    my ($rc, $out, $err) = run_worker(['--foreground', '--config', $conf], \%REFUSED_ENV);
    is $rc, 2, "$what: exits 2";
    like $err, $re, "$what: the message names it";
    like $err, qr/ error GCW\d{5} /, "$what: the message is a tagged error line";
}

{
    my ($rc, $out, $err) = run_worker(['--foreground', '--config', "$tmp/missing.conf"], \%REFUSED_ENV);
    is $rc, 2, 'a missing config file exits 2';
    like $err, qr/missing\.conf/, 'a missing config file is named';
}

{
    my ($rc, $out, $err) = run_worker(['--foreground'], {});
    is $rc, 2, 'no database_url anywhere exits 2';
    like $err, qr/\bdatabase_url\b.*DATABASE_URL/, 'the missing key and its variable are named';
}

{
    my %env = (%REFUSED_ENV, REDIS_URL => "bogus://:$REDIS_PASS\@x");
    my ($rc, $out, $err) = run_worker(['--foreground'], \%env);
    is $rc, 2, 'a bad REDIS_URL exits 2';
    like $err, qr/\bredis_url\b/, 'a bad REDIS_URL names redis_url';
    unlike $err, qr/\Q$REDIS_PASS\E/, 'a bad REDIS_URL is not echoed with its password';
}

# ---- a foreground run against servers that refuse ------------------------------------
{
    my $conf = write_file("$tmp/run.conf", "$good_conf" . "concurrency = 8\nlog_level = info\n");
    my $pidfile = "$tmp/fg.pid";
    my ($pid, $out, $err) = start(['--foreground', '--config', $conf, '--pidfile', $pidfile],
                                  \%REFUSED_ENV);

    # A second attempt by each means the backoff timer really fired.
    ok eventually(5, sub {
        my $log = slurp($err);
        return $log =~ /^.* warn GCW\d{5} postgres: cannot connect .*\(attempt 2\).*retrying in [\d.]+ s$/m
            && $log =~ /^.* warn GCW\d{5} redis: connect .*\(attempt 2\).*retrying in [\d.]+ s$/m;
    }), 'it retries PostgreSQL and Redis with backoff (attempt 2 of each logged)';
    my $log = slurp($err);
    like $log, qr/ warn GCW\d{5} postgres: cannot connect .*retrying in/m, 'a PostgreSQL retry is logged';
    like $log, qr/ warn GCW\d{5} redis: connect .*retrying in/m, 'a Redis retry is logged';
    like $log, qr/127\.0\.0\.1:1\/gemclone/, 'DATABASE_URL overrides database_url from the file';
    unlike $log, qr/from-file/, 'the file\'s database_url is not used';

    like $log, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z gemclone-worker\[$pid\] (?:debug|info|notice|warn|error) GCW\d{5} \S/m,
        'log lines read "<RFC 3339 UTC> gemclone-worker[pid] <level> GCWnnnnn <message>"';
    my @untagged = grep { !/^\S+Z gemclone-worker\[\d+\] \w+ GCW\d{5} / } split /\n/, $log;
    is_deeply \@untagged, [], 'every line on stderr is a tagged log line';
    like $log, qr/concurrency 8\b/, 'the start-up line shows the settings';

    ok -f $pidfile, 'the pidfile exists while it runs';
    is slurp($pidfile), "$pid\n", 'the pidfile holds the pid';

    my $t0 = time;
    kill 'TERM', $pid;
    my $st = wait_exit($pid, 2);
    my $took = time - $t0;
    ok defined $st, sprintf('it exits within 2 s of SIGTERM (%.2f s)', $took);
    is $st, 0, 'and exits 0' if defined $st;
    ok !-e $pidfile, 'the pidfile is removed on exit';

    $log = slurp($err);
    like $log, qr/ GCW\d{5} received SIGTERM, shutting down$/m, 'the stop is logged';
    unlike $log, qr/\Q$_\E/, "the log never shows the secret '$_'" for $PG_PASS, $REDIS_PASS, $API_KEY;
    like $log, qr{postgresql://gc:\*\*\*\@127\.0\.0\.1:1/}, 'the database URL is logged with the password masked';
    like $log, qr{redis://:\*\*\*\@127\.0\.0\.1:1/0}, 'the Redis URL is logged with the password masked';
    is slurp($out), '', 'nothing is written on stdout';
}

# ---- daemon mode: the launcher exits 0, the daemon stops on SIGTERM -------------------
{
    my $pidfile = "$tmp/daemon.pid";
    my ($launcher, $out, $err) = start(['--pidfile', $pidfile], \%REFUSED_ENV);
    my $st = wait_exit($launcher, 5);
    is $st, 0, 'without --foreground the launching process exits 0 once the daemon runs';
    my $dpid = -s $pidfile ? slurp($pidfile) : '';
    chomp $dpid;
    like $dpid, qr/^\d+$/, 'the daemon wrote its pid';
    if ($dpid =~ /^\d+$/) {
        push @started, $dpid;
        isnt $dpid, $launcher, 'the daemon is not the launching process';
        ok alive($dpid), 'the daemon is running';

        my ($rc2, undef, $err2) = run_worker(['--foreground', '--pidfile', $pidfile], \%REFUSED_ENV);
        is $rc2, 1, 'a second worker on the same pidfile exits 1';

        kill 'TERM', $dpid;
        ok eventually(2, sub { !-e $pidfile && !alive($dpid) }),
            'the daemon stops and removes its pidfile within 2 s of SIGTERM';
    } else {
        fail 'no daemon pid: cannot check the daemon';
    }
}

done_testing();
