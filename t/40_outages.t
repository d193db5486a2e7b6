# Dependency outages: /ready tells which dependency is down (503 with
# Retry-After), requests that need PostgreSQL answer 503 SERVICE_UNAVAILABLE
# (never 500) while it is down, /health never notices, and once a dependency
# is back everything heals within a few requests without restarting httpd.
use strict;
use warnings FATAL => 'all';

use Apache::Test qw(-withtestmore);
use GC::Test;

plan tests => 52;

# However this file ends, the next one finds both servers running.
my ($pg_down, $redis_down) = (0, 0);
END {
    eval { pg_start() }    if $pg_down;
    eval { redis_start() } if $redis_down;
}

# Bounded retry: calls CODE (which returns true when healthy) up to TRIES
# times, a short pause between calls (a server coming back, not a TTL).
sub eventually {
    my ($tries, $code) = @_;
    for my $i (1 .. $tries) {
        return $i if $code->();
        select(undef, undef, undef, 0.2);
    }
    return 0;
}

sub health_ok {
    my $name = shift;
    my ($st, undef, $b) = api_get('/health');
    ok($st == 200 && $b && $b->{success}, "$name: /health 200");
}

# A 503 as the contract says: SERVICE_UNAVAILABLE envelope and Retry-After.
sub unavailable_ok {
    my ($name, $st, $h, $b, $raw) = @_;
    my $ok = is($st, 503, "$name: 503");
    $ok &= is($b && $b->{error} && $b->{error}{code}, 'SERVICE_UNAVAILABLE',
              "$name: SERVICE_UNAVAILABLE");
    $ok &= like($h->{'retry-after'} // '', qr/^\d+$/, "$name: Retry-After in seconds");
    diag("answer was: $raw") unless $ok;
}

my $mark = error_log_mark();
my $u = signup_and_login();
my ($st, $h, $b, $raw) = api_get('/ready');
is($st, 200, 'both up: /ready 200');
is_deeply($b && $b->{data}, { postgres => 'up', redis => 'up' }, 'both up: data says so');

# ---- Redis down -------------------------------------------------------------------
redis_stop();
$redis_down = 1;
($st, $h, $b, $raw) = api_get('/ready');
unavailable_ok('Redis down: /ready', $st, $h, $b, $raw);
is_deeply($b && $b->{data}, { postgres => 'up', redis => 'down' },
          'Redis down: data {postgres: up, redis: down}');
ok($b && $b->{success} == 0, 'Redis down: success false');
health_ok('Redis down');
# a second child / a second pooled connection gives the same answer
($st, undef, $b) = api_get('/ready');
is($st, 503, 'Redis down: /ready still 503 on the next request');

redis_start();
$redis_down = 0;
my $n = eventually(10, sub { my ($s, undef, $bb) = api_get('/ready');
                             $s == 200 && $bb->{data}{redis} eq 'up' });
ok($n, "Redis back: /ready 200 again without restarting httpd (after $n request(s))");
# every pooled connection of both children has healed: a burst all answers 200
my $all = 1;
for (1 .. 20) { my ($s) = api_get('/ready'); $all &&= $s == 200 }
ok($all, 'Redis back: 20 requests in a row, /ready 200');
health_ok('Redis back');

# ---- PostgreSQL down ---------------------------------------------------------------
pg_stop();
$pg_down = 1;
($st, $h, $b, $raw) = api_get('/ready');
unavailable_ok('PostgreSQL down: /ready', $st, $h, $b, $raw);
is_deeply($b && $b->{data}, { postgres => 'down', redis => 'up' },
          'PostgreSQL down: data {postgres: down, redis: up}');
health_ok('PostgreSQL down');

my $mobile = random_mobile();
($st, $h, $b, $raw) = api_post('/auth/signup', json => { mobile => $mobile });
unavailable_ok('PostgreSQL down: POST /auth/signup', $st, $h, $b, $raw);

($st, $h, $b, $raw) = api_get('/user/me', token => $u->{token});
unavailable_ok('PostgreSQL down: GET /user/me with a valid token', $st, $h, $b, $raw);

($st, $h, $b, $raw) = api_post('/auth/send-otp', json => { mobile => $u->{mobile} });
unavailable_ok('PostgreSQL down: POST /auth/send-otp', $st, $h, $b, $raw);

($st, $h, $b, $raw) = api_post('/auth/login', json => { mobile => $u->{mobile},
                                                          password => 'whatever-password' });
unavailable_ok('PostgreSQL down: POST /auth/login', $st, $h, $b, $raw);

# what needs no database still answers as usual
($st, undef, $b) = api_get('/user/me');
is($st, 401, 'PostgreSQL down: /user/me without a token is still 401');
($st, undef, $b) = api_get('/user/me', token => 'garbage');
is($st, 401, 'PostgreSQL down: a malformed token is still 401 (no database needed)');
($st) = api_get('/no/such/path');
is($st, 404, 'PostgreSQL down: unknown path still 404');

# several more requests: every child and pooled connection sees the outage,
# none of them turns into a 500
my %seen;
for (1 .. 10) { my ($s) = api_get('/user/me', token => $u->{token}); $seen{$s}++ }
is_deeply(\%seen, { 503 => 10 }, 'PostgreSQL down: 10 more /user/me, all 503');

# ---- PostgreSQL back: reads heal first, then writes ----------------------------------
pg_start();
$pg_down = 0;
$n = eventually(20, sub { my ($s) = api_get('/ready'); $s == 200 });
ok($n, "PostgreSQL back: /ready 200 without restarting httpd (after $n request(s))");
($st, undef, $b) = api_get('/ready');
is_deeply($b && $b->{data}, { postgres => 'up', redis => 'up' }, 'PostgreSQL back: both up');

$n = eventually(20, sub { my ($s) = api_get('/user/me', token => $u->{token}); $s == 200 });
ok($n, "PostgreSQL back: /user/me 200 (after $n request(s))");
# pooled connections of both children (up to DBDKeep each) may each fail once
# after the restart: a burst must be all 200 once one request has healed
%seen = ();
for (1 .. 30) { my ($s) = api_get('/user/me', token => $u->{token}); $seen{$s}++ }
is_deeply(\%seen, { 200 => 30 }, 'PostgreSQL back: 30 more /user/me, all 200');

my %signup;
$n = eventually(20, sub {
    my ($s) = api_post('/auth/signup', json => { mobile => $mobile });
    $signup{$s}++;
    $s == 201;
});
ok($n, "PostgreSQL back: the refused signup now succeeds (after $n request(s))");
ok(!$signup{500}, 'PostgreSQL back: no signup answered 500 on the way');
($st, undef, $b) = api_post('/auth/signup', json => { mobile => $mobile });
is($st, 409, 'PostgreSQL back: that mobile is registered exactly once (409 now)');

# a full login on the healed connections: writes and reads, several statements
my $v = eval { signup_and_login() };
ok($v && $v->{token}, 'PostgreSQL back: signup, send-otp, verify-otp all work') or diag($@);
($st) = api_get('/user/me', token => $v ? $v->{token} : 'x');
is($st, 200, 'PostgreSQL back: the new token works');
($st) = api_post('/auth/logout', token => $u->{token});
is($st, 200, 'PostgreSQL back: logout (a write) works');
health_ok('PostgreSQL back');

# ---- both down at once ----------------------------------------------------------------
pg_stop();
$pg_down = 1;
redis_stop();
$redis_down = 1;
($st, $h, $b, $raw) = api_get('/ready');
unavailable_ok('both down: /ready', $st, $h, $b, $raw);
is_deeply($b && $b->{data}, { postgres => 'down', redis => 'down' }, 'both down: data says so');
health_ok('both down');
redis_start();
$redis_down = 0;
pg_start();
$pg_down = 0;
$n = eventually(20, sub { my ($s) = api_get('/ready'); $s == 200 });
ok($n, "both back: /ready 200 (after $n request(s))");
$n = eventually(20, sub { my ($s) = api_get('/user/me', token => $v ? $v->{token} : 'x'); $s == 200 });
ok($n, "both back: /user/me 200 (after $n request(s))");

# No outage was taken for a bug: nothing was logged as an internal error.
my @internal = error_log_grep(qr/GC00011|GC00022|INTERNAL_ERROR/, $mark);
is(scalar @internal, 0, 'no internal error was logged during the outages')
    or diag(join "\n", @internal[0 .. ($#internal < 5 ? $#internal : 4)]);
