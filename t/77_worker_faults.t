# Worker faults (README "The worker"; API.md "a prompt whose reply fails for
# good is refunded"): a worker lost after writing a result still gets the
# reply its final steps (refund exactly once, final event, wake-up) when the
# entry is read again; a swept entry cannot take a reply whose owner renewed
# its lease; a result from a generation that lost the reply is dropped; a
# reply re-run too often fails for good and is refunded; the worker idles
# quietly while PostgreSQL is down; client-facing errors are short and
# carry no upstream text. No real TTL waits: states are set up directly.
use strict;
use warnings FATAL => 'all';

use Apache::Test qw(-withtestmore);
use POSIX ();
use Time::HiRes qw(time sleep);
use GC::Test;

plan tests => 31;

my $CONSUMER = 'gemclone-test-worker';    # t/servers
my $WORKER_LOG = "$ENV{GC_TEST_STATE}/worker.log";
my $pg_down = 0;
END {
    local $?;
    eval { pg_start() } if $pg_down;
    eval { worker_start() };
    clock_reset();
}
clock_reset();
gemini_control();

my $tag = "t77-$$";
my $mark = error_log_mark();
my $u = signup_and_login();
my $T = $u->{token};
my $room = new_room($T, 'faults');

sub used_today {
    my ($st, undef, $b) = api_get('/subscription/status', token => $T);
    return $st == 200 ? $b->{data}{used_today} : "status $st";
}

sub calls_for {
    my $re = shift;
    return scalar grep { ($_->{last_user_text} // '') =~ $re } gemini_requests();
}

sub pending_entries {
    my @x = redis_cli('XPENDING', 'gemclone:jobs', 'gemclone-workers');
    return $x[0] // 0;
}

sub log_has {
    my $re = shift;
    open my $fh, '<', $WORKER_LOG or return 0;
    local $/;
    my $all = <$fh>;
    return $all =~ $re;
}

sub post_async {
    my ($text) = @_;
    my ($st, undef, $b, $raw) = post_prompt($T, $room, $text, async => 1);
    die "post_async: $st: $raw\n" unless $st == 202;
    return $b->{data}{reply}{id};
}

# ---- set-up with the worker stopped ----------------------------------------------------------
worker_stop();
# P1: stored as failed by a worker that died before the Redis steps; its
# entry is pending for this consumer (delivered before the crash).
my $p1 = post_async("lost after finish $tag");
redis_cli('XREADGROUP', 'GROUP', 'gemclone-workers', $CONSUMER, 'COUNT', '100',
          'STREAMS', 'gemclone:jobs', '>');
psql("UPDATE messages SET status = 'failed', error = 'the model stopped: OTHER', "
     . "completed_at = now(), generation = 1, refunded = false WHERE id = $p1");
# P2: claimed by a live owner that renewed its lease; a stale swept entry.
my $p2 = post_async("renewed lease $tag");
for my $e (redis_cli('XREADGROUP', 'GROUP', 'gemclone-workers', 't77-ghost', 'COUNT', '100',
                     'STREAMS', 'gemclone:jobs', '>')) {
    redis_cli('XACK', 'gemclone:jobs', 'gemclone-workers', $e) if $e =~ /^\d+-\d+$/;
}
psql("UPDATE messages SET generation = 1, lease_until = to_timestamp(floor(extract(epoch FROM now())) + 300) "
     . "WHERE id = $p2");
my $stale = (psql("SELECT (extract(epoch FROM lease_until) * 1000000)::bigint FROM messages WHERE id = $p2"))[0]
            - 200_500_000;                    # what a sweep 200 s earlier would have set
redis_cli('XADD', 'gemclone:jobs', '*', 'v', 1, 'reply_id', $p2, 'enqueued_at', 0,
          'generation', 1, 'lease_until', $stale);
# P3: re-run after five lost workers.
my $p3 = post_async("too many runs $tag");
psql("UPDATE messages SET generation = 5, lease_until = now() - interval '1 day' WHERE id = $p3");
is(used_today(), 3, 'three prompts charged');
worker_start();
pass('worker started');

# ---- P1: final steps of a result stored before the worker was lost ---------------------------
ok(wait_until(sub { used_today() == 1 }, 10), 'the failed reply and the over-run one are refunded')
    or diag('used_today ' . used_today());
ok(wait_until(sub { psql("SELECT refunded FROM messages WHERE id = $p1") eq 't' }, 5),
   'P1: marked refunded in PostgreSQL after the Redis refund');
is(redis_cli('EXISTS', "gemclone:refund:$p1"), 1, 'P1: the refund marker is set');
ok((grep { $_ eq 'final' } redis_cli('XRANGE', "gemclone:events:$p1", '-', '+')),
   'P1: the final event was published');
ok(wait_until(sub { redis_cli('EXISTS', "gemclone:wake:$p1") == 1 }, 5), 'P1: the wake-up was sent');
my ($st, undef, $b) = api_get("/chatroom/$room/messages/$p1", token => $T);
is($b->{data}{status}, 'failed', 'P1: still failed, untouched');
is(calls_for(qr/^lost after finish \Q$tag\E/), 0, 'P1: Gemini was not asked');

# The same reply's entry again (a second lost worker): nothing more refunded.
redis_cli('XADD', 'gemclone:jobs', '*', 'v', 1, 'reply_id', $p1, 'enqueued_at', 0);
ok(wait_until(sub { log_has(qr/reply $p1: not claimed: already failed; running its final steps\n/) }, 5),
   'P1 again: its final steps run again (refund not included)');
is(used_today(), 1, 'P1 again: no second refund');
# Lost between the Redis refund and the PostgreSQL mark: the marker stops a second decrement.
psql("UPDATE messages SET refunded = false WHERE id = $p1");
redis_cli('XADD', 'gemclone:jobs', '*', 'v', 1, 'reply_id', $p1, 'enqueued_at', 0);
ok(wait_until(sub { psql("SELECT refunded FROM messages WHERE id = $p1") eq 't' }, 5),
   'P1 unmarked: marked refunded again');
is(used_today(), 1, '... but the counter was decremented only once');

# ---- P3: max_generations --------------------------------------------------------------------------
my $r3 = wait_reply_final($T, $room, $p3, 10);
is($r3->{status}, 'failed', 'P3 (generation 6 > max_generations 5): failed');
is($r3->{error}, 'gave up after repeated worker failures', '... saying why');
is(calls_for(qr/^too many runs \Q$tag\E/), 0, '... without asking Gemini');
is(psql("SELECT refunded FROM messages WHERE id = $p3"), 't', '... and refunded');

# ---- P2: a swept entry against a renewed lease ------------------------------------------------
ok(wait_until(sub { log_has(qr/reply $p2: skipped \(not claimed: pending at generation 1, leased by another worker\)/) }, 5),
   'P2: the stale swept entry was not claimed');
is(join('|', psql_row("SELECT status, generation FROM messages WHERE id = $p2")), 'pending|1',
   '... the reply stays with its owner (pending, generation 1)');
my $now_lease = psql("SELECT (extract(epoch FROM lease_until) * 1000000)::bigint FROM messages WHERE id = $p2");
redis_cli('XADD', 'gemclone:jobs', '*', 'v', 1, 'reply_id', $p2, 'enqueued_at', 0,
          'generation', 1, 'lease_until', $now_lease);
my $r2 = wait_reply_final($T, $room, $p2, 10);
ok($r2->{status} eq 'done' && psql("SELECT generation FROM messages WHERE id = $p2") == 2,
   'P2: an entry carrying the current lease takes it over (done, generation 2)');
ok(wait_until(sub { pending_entries() == 0 }, 5), 'no entry left pending');

# ---- a result from a generation that lost the reply -------------------------------------------
my $p4 = post_async("taken over $tag [[gc:slow=1200]]");
ok(wait_until(sub { calls_for(qr/^taken over \Q$tag\E/) == 1 }, 5), 'P4: in flight at the stand-in');
psql("UPDATE messages SET generation = generation + 1, lease_until = now() + interval '300 s' WHERE id = $p4");
ok(wait_until(sub { log_has(qr/reply $p4: no longer pending at generation 1 .*result dropped/) }, 10),
   'P4: the old generation\'s result is dropped');
is(join('|', psql_row("SELECT status, coalesce(content, 'null'), generation FROM messages WHERE id = $p4")),
   'pending|null|2', '... the row is left to its new owner');
psql("UPDATE messages SET status = 'failed', error = 'test', completed_at = now(), refunded = true WHERE id = $p4");

# ---- client-facing errors ------------------------------------------------------------------------
($st, undef, $b) = post_prompt($T, $room, "rejected $tag [[gc:status=400]]");
is($b->{data}{reply}{error}, 'Gemini rejected the request (400 INVALID_ARGUMENT)',
   'a 400: a short reason, no upstream message');
my $t0 = time;
($st, undef, $b) = post_prompt($T, $room, "retry after zero $tag [[gc:fail=503x1]][[gc:retry_after=0]]");
my $el = time - $t0;
ok($st == 200 && $b->{data}{reply}{status} eq 'done', 'Retry-After: 0 is retried: done');
ok($el >= 0.25, sprintf('... after a wait of at least 250 ms (%.2f s)', $el));

# ---- PostgreSQL down: the worker idles -----------------------------------------------------------
sub cpu_ticks {
    my $pid = shift;
    open my $fh, '<', "/proc/$pid/stat" or return undef;
    my @f = split ' ', (split /\) /, scalar <$fh>)[1];
    return $f[11] + $f[12];                   # utime + stime
}
worker_stop();
pg_stop();
$pg_down = 1;
worker_start();
my $wpid = do { open my $fh, '<', "$ENV{GC_TEST_STATE}/worker.pid" or die; local $/; <$fh> } =~ s/\s+//gr;
sleep 0.5;
my $c0 = cpu_ticks($wpid);
sleep 2;
my $used = cpu_ticks($wpid) - $c0;
my $hz = POSIX::sysconf(POSIX::_SC_CLK_TCK()) || 100;
ok($used <= 0.2 * 2 * $hz, sprintf('PostgreSQL down at start-up: the worker used %.0f%% CPU (at most 20%%)',
                                  100 * $used / (2 * $hz)));
pg_start();
$pg_down = 0;
ok(wait_until(sub { (api_get('/ready'))[0] == 200 }, 10), 'PostgreSQL back');
($st, undef, $b) = post_prompt($T, $room, "after the outage $tag");
ok($st == 200 && $b->{data}{reply}{content} eq "Echo: after the outage $tag", '... and the worker answers');

my @crash = error_log_grep(qr/Segmentation fault|exit signal|double free|AddressSanitizer/, $mark);
ok(!@crash, 'no crash in the error log') or diag(join "\n", @crash);
