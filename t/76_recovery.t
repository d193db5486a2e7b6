# Recovery (README "A prompt", "The worker"; API.md "nothing accepted is
# lost"): a worker killed with jobs in flight leaves them leased; once the
# lease runs out (clock shift) the sweeper queues them again and every
# accepted prompt gets exactly one reply, the event stream showing a reset.
# A queue that lost its jobs is refilled by the sweeper after
# GemCloneSweeperGrace. Redis or PostgreSQL down during a POST: 503, nothing
# stored; back up, prompts work again without restarting anything.
use strict;
use warnings FATAL => 'all';

use Apache::Test qw(-withtestmore);
use File::Temp ();
use POSIX ();
use Time::HiRes qw(time sleep);
use GC::Test;

plan tests => 38;

my $LEASE = $ENV{GC_TEST_LEASE_SECONDS} or die "GC_TEST_LEASE_SECONDS not set: run through t/run-suite\n";
my $GRACE = $ENV{GC_TEST_SWEEPER_GRACE} or die "GC_TEST_SWEEPER_GRACE not set: run through t/run-suite\n";

clock_reset();
gemini_control();
my ($pg_down, $redis_down) = (0, 0);
END {
    local $?;
    eval { pg_start() }    if $pg_down;
    eval { redis_start() } if $redis_down;
    eval { worker_start() };
    clock_reset();
}

my $tag = "t76-$$";
my $mark = error_log_mark();

sub prompts_seen {
    my $re = shift;
    return scalar grep { ($_->{last_user_text} // '') =~ $re } gemini_requests();
}

# ---- kill -9 with 10 jobs in flight ---------------------------------------------------------
my @users = map { signup_and_login() } 1 .. 2;
my @rooms = map { new_room($_->{token}, 'crash') } @users;
my (@jobs, $bad);
for my $i (0 .. 9) {
    my $k = $i % 2;
    my ($st, undef, $b) = post_prompt($users[$k]{token}, $rooms[$k],
                                      "crash $i $tag [[gc:slow=1500]][[gc:chunks=2]]", async => 1);
    $bad++ unless $st == 202;
    push @jobs, { k => $k, reply => $b->{data}{reply}{id}, um => $b->{data}{user_message}{id} };
}
ok(!$bad, '10 slow prompts accepted (202)');
ok(wait_until(sub { prompts_seen(qr/^crash \d \Q$tag\E/) == 10 }, 10),
   'all 10 are in flight at the stand-in');
worker_kill();
pass('worker killed with SIGKILL');
my @pending = psql("SELECT id FROM messages WHERE id IN (" . join(',', map { $_->{reply} } @jobs)
                   . ") AND status = 'pending' AND generation = 1");
is(scalar @pending, 10, 'the 10 replies stay pending, claimed once (generation 1)');
worker_start();
pass('worker started again');

# Watch one reply's event stream live while the job is re-run.
my $dir = File::Temp::tempdir('gc-t76-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $watch = $jobs[0];
my $watcher = fork // die "fork: $!";
if (!$watcher) {
    my $r = eval { sse_read($users[0]{token}, $rooms[0], $watch->{reply}, timeout => 40) };
    open my $fh, '>', "$dir/sse.json" or POSIX::_exit(1);
    print $fh json_encode([map { { event => $_->{event}, data => $_->{data} } } grep { $_->{event} } @{ $r ? $r->{events} : [] }]);
    close $fh;
    POSIX::_exit(0);
}
sleep 1;
my $still = psql("SELECT count(*) FROM messages WHERE id IN (" . join(',', map { $_->{reply} } @jobs)
                 . ") AND status = 'pending'");
is($still, 10, 'within the lease the restarted worker leaves them alone');
clock_shift($LEASE + 5);
my @final = map { wait_reply_final($users[$_->{k}]{token}, $rooms[$_->{k}], $_->{reply}, 30) } @jobs;
is(scalar(grep { $_->{status} eq 'done' } @final), 10, 'past the lease: all 10 replies done');
ok(!(grep { $final[$_]{content} ne "Echo: crash $_ $tag [[gc:slow=1500]][[gc:chunks=2]]" } 0 .. 9),
   '... each with its own answer');
my $ids = join ',', map { $_->{reply} } @jobs;
my @gens = psql("SELECT generation FROM messages WHERE id IN ($ids)");
ok(!(grep { $_ < 1 } @gens), 'generation >= 1 everywhere');
is(scalar(grep { $_ >= 2 } @gens), 10, 'each was generated again after the crash (generation 2)');
my $rooms = join ',', @rooms;
is(psql("SELECT count(*) FROM messages WHERE chatroom_id IN ($rooms) AND role = 'user'"), 10,
   'no duplicate user messages (10)');
is(psql("SELECT count(*) FROM messages WHERE chatroom_id IN ($rooms) AND role = 'model'"), 10,
   'exactly one reply per prompt (10)');
is(psql("SELECT count(*) FROM messages u WHERE u.chatroom_id IN ($rooms) AND u.role = 'user' "
        . "AND (SELECT count(*) FROM messages m WHERE m.reply_to = u.id AND m.status = 'done') = 1"), 10,
   'every prompt has exactly one done reply');
is(prompts_seen(qr/^crash \d \Q$tag\E/), 20, 'Gemini was asked twice for each (before and after the crash)');
waitpid($watcher, 0);
my $seen = do { local $/; open my $fh, '<', "$dir/sse.json" or die; json_decode(scalar <$fh>) } || [];
my @names = map { $_->{event} } @$seen;
ok((grep { $_ eq 'reset' } @names), 'the live event stream shows a reset') or diag("@names");
my $li = (grep { $names[$_] eq 'reset' } 0 .. $#names)[-1] // -1;
my $after = join '', map { $_->{data}{text} } grep { $_->{event} eq 'delta' } @$seen[$li + 1 .. $#$seen];
is($after, $final[0]{content}, '... the pieces after the last reset add up to the final content');
is($names[-1] // '', 'message', '... and it ends with the message event');
clock_reset();

# ---- the queue loses its jobs ----------------------------------------------------------------------
worker_stop();
pass('worker stopped (SIGTERM)');
my $c = signup_and_login();
my $croom = new_room($c->{token}, 'lost queue');
my @lost;
for my $i (1 .. 4) {
    my ($st, undef, $b) = post_prompt($c->{token}, $croom, "lost $i $tag", async => 1);
    push @lost, $b->{data}{reply}{id};
}
ok(redis_cli('XLEN', 'gemclone:jobs') >= 4, 'the jobs are on the queue');
redis_cli('DEL', 'gemclone:jobs');
is(redis_cli('EXISTS', 'gemclone:jobs'), 0, 'queue dropped (DEL gemclone:jobs)');
worker_start();
sleep 1.5;
my $lost_ids = join ',', @lost;
is(psql("SELECT count(*) FROM messages WHERE id IN ($lost_ids) AND status = 'pending'"), 4,
   'within GemCloneSweeperGrace the replies stay pending (nothing on the queue)');
clock_shift($GRACE + 2);
my @rec = map { wait_reply_final($c->{token}, $croom, $_, 15) } @lost;
is(scalar(grep { $_->{status} eq 'done' } @rec), 4, 'past the grace the sweeper queued them: all 4 done');
ok(!(grep { $rec[$_ - 1]{content} ne "Echo: lost $_ $tag" } 1 .. 4), '... each with its answer');
is(psql("SELECT count(*) FROM messages WHERE chatroom_id = $croom"), 8, '... and nothing doubled');
clock_reset();

# ---- Redis down during a POST ------------------------------------------------------------------------
my $d = signup_and_login();
my $droom = new_room($d->{token}, 'outages');
redis_stop();
$redis_down = 1;
my ($st, $h, $b, $raw) = post_prompt($d->{token}, $droom, "redis down $tag");
is($st, 503, 'Redis down: POST message 503') or diag($raw);
ok($b->{error}{code} eq 'SERVICE_UNAVAILABLE' && ($h->{'retry-after'} // '') =~ /^\d+$/,
   '... SERVICE_UNAVAILABLE with Retry-After');
is(psql("SELECT count(*) FROM messages WHERE chatroom_id = $droom"), 0, '... nothing stored');
($st, $h) = api_get('/chatroom', token => $d->{token});
ok($st == 200 && $h->{'x-cache'} eq 'MISS', 'the chatroom list still answers (from PostgreSQL)');
redis_start();
$redis_down = 0;
ok(wait_until(sub { (api_get('/ready'))[0] == 200 }, 10), 'Redis back: /ready 200');
($st, undef, $b) = post_prompt($d->{token}, $droom, "redis back $tag", async => 1);
is($st, 202, 'Redis back: POST message accepted');
is(wait_reply_final($d->{token}, $droom, $b->{data}{reply}{id}, 20)->{content}, "Echo: redis back $tag",
   '... and answered (the worker reconnected)');

# ---- PostgreSQL down during a POST -----------------------------------------------------------------------
pg_stop();
$pg_down = 1;
($st, $h, $b, $raw) = post_prompt($d->{token}, $droom, "pg down $tag");
is($st, 503, 'PostgreSQL down: POST message 503') or diag($raw);
ok($b->{error}{code} eq 'SERVICE_UNAVAILABLE' && ($h->{'retry-after'} // '') =~ /^\d+$/,
   '... SERVICE_UNAVAILABLE with Retry-After');
pg_start();
$pg_down = 0;
is(psql("SELECT count(*) FROM messages WHERE chatroom_id = $droom AND content LIKE 'pg down%'"), 0,
   '... nothing stored');
ok(wait_until(sub { (api_get('/ready'))[0] == 200 }, 10), 'PostgreSQL back: /ready 200');
($st, undef, $b) = post_prompt($d->{token}, $droom, "pg back $tag", async => 1);
is($st, 202, 'PostgreSQL back: POST message accepted (the module healed)');
is(wait_reply_final($d->{token}, $droom, $b->{data}{reply}{id}, 20)->{content}, "Echo: pg back $tag",
   '... and answered (the worker reconnected)');

my @crash = error_log_grep(qr/Segmentation fault|exit signal|double free|AddressSanitizer/, $mark);
ok(!@crash, 'no crash in the error log') or diag(join "\n", @crash);
