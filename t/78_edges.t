# Edges nobody else covers: a worker stopped with SIGTERM while slow jobs
# are in flight hands their leases back, and its restart finishes each
# reply exactly once without the lease running out (no clock shift); Redis
# stopped under an open event stream (keep-alives go on, httpd survives,
# a new stream gets the final event once Redis is back); HEAD of a message
# with Accept: text/event-stream is a plain JSON answer; X-RateLimit-* on a
# 202, on a 502 and on the idempotent replay of a failed prompt; the 5xx
# counter of POST /chatroom/:id/message in /metrics; an event stream for
# someone else's message or a bad id is a 404 JSON answer, not a stream.
use strict;
use warnings FATAL => 'all';

use Apache::Test qw(-withtestmore);
use Apache::TestRequest ();
use File::Temp ();
use POSIX ();
use Time::HiRes qw(time sleep);
use GC::Test;

plan tests => 69;

my $LEASE = $ENV{GC_TEST_LEASE_SECONDS} or die "GC_TEST_LEASE_SECONDS not set: run through t/run-suite\n";
my $STATE = $ENV{GC_TEST_STATE} or die "GC_TEST_STATE not set: run through t/run-suite\n";
my $WORKER_LOG = "$STATE/worker.log";
my $WORKER_PID = "$STATE/worker.pid";

my $redis_down = 0;
END {
    local $?;
    eval { redis_start() } if $redis_down;
    eval { worker_start() };
    eval { gemini_control() };
    clock_reset();
}
clock_reset();
gemini_control();

my $tag = "t78-$$";
my $mark = error_log_mark();

sub fresh {
    my $u = signup_and_login();
    return ($u->{token}, new_room($u->{token}, shift // 'edges'), $u);
}
sub calls_for {
    my $re = shift;
    return scalar grep { ($_->{last_user_text} // '') =~ $re } gemini_requests();
}
sub used_today {
    my $t = shift;
    my ($st, undef, $b) = api_get('/subscription/status', token => $t);
    return $st == 200 ? $b->{data}{used_today} : "status $st";
}
sub log_text {
    open my $fh, '<', $WORKER_LOG or return '';
    local $/;
    return scalar <$fh>;
}
sub frames { my $r = shift; return join ' ', map { $_->{event} // ": $_->{comment}" } @{ $r->{events} || [] } }
# The next UTC midnight (Unix time) by the server's clock (offset 0 here).
sub next_midnight { return (int((time + clock_offset()) / 86400) + 1) * 86400 }
sub hostport { return Apache::TestRequest::hostport(Apache::Test::config()) }

# ==== 1. SIGTERM with 3 slow jobs in flight ======================================================
# The stand-in answers after 4 s, longer than the worker's shutdown grace
# (2 s, t/servers): the jobs are aborted, their leases released (lease_until
# set to now) and their entries left unacknowledged, so the restarted worker
# re-reads and claims them at once (generation 2), no lease expiry needed.
my ($T1) = fresh('sigterm');
my @rooms1 = map { new_room($T1, "sigterm $_") } 1 .. 3;
my @jobs;
my $t_post = time;
for my $i (0 .. 2) {
    my $text = "term $i $tag [[gc:slow=4000]][[gc:chunks=1]]";
    my ($st, undef, $b) = post_prompt($T1, $rooms1[$i], $text, async => 1);
    push @jobs, { st => $st, room => $rooms1[$i], text => $text,
                  reply => $b->{data}{reply}{id}, um => $b->{data}{user_message}{id} };
}
is(scalar(grep { $_->{st} == 202 } @jobs), 3, 'three slow prompts accepted (202)');
ok(wait_until(sub { calls_for(qr/^term \d \Q$tag\E/) == 3 }, 10), '... all three in flight at the stand-in');
my $ids1 = join ',', map { $_->{reply} } @jobs;
my $wpid = do { open my $fh, '<', $WORKER_PID or die "$WORKER_PID: $!"; local $/; <$fh> } =~ s/\s+//gr;
my $log_before = length log_text();
my $t_stop = time;
worker_stop();
my $stop_took = time - $t_stop;
ok(!kill(0, $wpid), "the worker (pid $wpid) exited on SIGTERM");
ok($stop_took < 6, sprintf('... by itself soon after its 2 s shutdown grace, long before t/servers would SIGKILL it (%.2f s)', $stop_took));
my $wlog = substr(log_text(), $log_before);
like($wlog, qr/received SIGTERM, shutting down/, '... logging the SIGTERM');
is(scalar(grep { $wlog =~ /reply $_->{reply}: aborted by the shutdown/ } @jobs), 3,
   '... and aborting the three jobs') or diag($wlog);
is(psql("SELECT count(*) FROM messages WHERE id IN ($ids1) AND status = 'pending' AND generation = 1 "
        . "AND lease_until <= now()"), 3,
   'leases handed back: the replies are pending at generation 1 with lease_until <= now');
is(clock_offset(), 0, 'the clock was not shifted');
my $t_start = time;
worker_start();
my @final1 = map { wait_reply_final($T1, $_->{room}, $_->{reply}, 20) } @jobs;
my $all_done_after = time - $t_post;
is(scalar(grep { ($_->{status} // '') eq 'done' } @final1), 3, 'after worker_start: the three replies are done');
ok(!(grep { ($final1[$_]{content} // '') ne "Echo: $jobs[$_]{text}" } 0 .. 2), '... each with its own answer');
ok($all_done_after < $LEASE,
   sprintf('... %.1f s after the prompts, before the %d s lease could have run out', $all_done_after, $LEASE));
is(join(',', psql("SELECT generation FROM messages WHERE id IN ($ids1) ORDER BY id")), '2,2,2',
   'each was claimed once more after the restart (generation 2)');
my $rooms1 = join ',', @rooms1;
is(join(',', psql("SELECT count(*) FROM messages WHERE chatroom_id IN ($rooms1) AND role = 'model' "
                  . "GROUP BY chatroom_id ORDER BY chatroom_id")), '1,1,1',
   'no duplicate model rows: one reply per room');
is(join(',', psql("SELECT count(*) FROM messages WHERE chatroom_id IN ($rooms1) AND role = 'user' "
                  . "GROUP BY chatroom_id ORDER BY chatroom_id")), '1,1,1', '... and one prompt per room');
is(calls_for(qr/^term \d \Q$tag\E/), 6, 'Gemini was asked twice for each (aborted, then re-run)');
is(scalar(grep { my $id = $_->{reply}; (grep { $_ eq 'final' } redis_cli('XRANGE', "gemclone:events:$id", '-', '+')) == 1 } @jobs),
   3, 'exactly one final event published per reply');
my @sse1 = map { sse_read($T1, $_->{room}, $_->{reply}, timeout => 10) } @jobs;
is(scalar(grep { @{ $_->{events} } == 1 && ($_->{events}[0]{event} // '') eq 'message'
                 && ($_->{events}[0]{data}{status} // '') eq 'done' } @sse1), 3,
   'each event stream: just one final message, done') or diag(join ' | ', map { frames($_) } @sse1);
ok(wait_until(sub { used_today($T1) == 3 }, 5), 'charged once each, nothing refunded (used_today 3)')
    or diag('used_today ' . used_today($T1));
ok(wait_until(sub { !(grep { /^\d+$/ && $_ > 0 } (redis_cli('XPENDING', 'gemclone:jobs', 'gemclone-workers'))[0] // 0) }, 5),
   'no job entry left pending in the consumer group');

# ==== 3. HEAD with Accept: text/event-stream ====================================================
sub head_stream {
    my ($token, $room, $mid) = @_;
    my $hp = hostport();
    my $t0 = time;
    my ($st, $resp) = raw_request("HEAD /chatroom/$room/messages/$mid HTTP/1.1\r\nHost: $hp\r\n"
                                  . "Authorization: Bearer $token\r\nAccept: text/event-stream\r\n"
                                  . "Connection: close\r\n\r\n");
    my ($head, $body) = split /\r\n\r\n/, $resp, 2;
    return { status => $st, head => $head // '', body => $body // '', took => time - $t0 };
}
my ($st, $h, $b, $raw);
my $hd = head_stream($T1, $jobs[0]{room}, $jobs[0]{reply});
is($hd->{status}, 200, 'HEAD of a done reply with Accept: text/event-stream: 200');
like($hd->{head}, qr{^Content-Type: application/json}mi, '... a JSON content type') or diag($hd->{head});
is(length($hd->{body}), 0, '... and no body');
my $htext = "head pending $tag [[gc:slow=3000]][[gc:chunks=1]]";
($st, undef, $b) = post_prompt($T1, $jobs[1]{room}, $htext, async => 1);
my $hpend = $b->{data}{reply}{id};
$hd = head_stream($T1, $jobs[1]{room}, $hpend);
ok($hd->{status} == 200 && $hd->{took} < 1.5,
   sprintf('HEAD of a pending reply: 200 at once (%.2f s), not held open as a stream', $hd->{took}));
ok($hd->{head} !~ m{text/event-stream}i && $hd->{head} =~ m{^Content-Type: application/json}mi,
   '... JSON, not text/event-stream') or diag($hd->{head});
is(length($hd->{body}), 0, '... no body');
is(wait_reply_final($T1, $jobs[1]{room}, $hpend, 15)->{status}, 'done', '(that reply completes)');

# ==== 6. event streams that are not yours or not valid ==========================================
my $other = signup_and_login();
my %sse_hdr = (Accept => 'text/event-stream');
($st, $h, $b, $raw) = api_get("/chatroom/$jobs[0]{room}/messages/$jobs[0]{reply}", token => $other->{token},
                              headers => \%sse_hdr);
is($st, 404, "event stream of another user's message: 404");
like($h->{'content-type'} // '', qr{^application/json}, '... a JSON answer, not a stream');
ok(ref $b eq 'HASH' && !$b->{success} && ($b->{error}{code} // '') eq 'NOT_FOUND', '... error NOT_FOUND')
    or diag($raw);
($st, $h, $b, $raw) = api_get("/chatroom/$jobs[0]{room}/messages/abc", token => $T1, headers => \%sse_hdr);
is($st, 404, 'event stream for message id abc: 404');
ok(($h->{'content-type'} // '') =~ m{^application/json} && ref $b eq 'HASH'
   && ($b->{error}{code} // '') eq 'NOT_FOUND', '... JSON NOT_FOUND') or diag($raw);
($st, $h, $b, $raw) = api_get("/chatroom/abc/messages/$jobs[0]{reply}", token => $T1, headers => \%sse_hdr);
ok($st == 404 && ($h->{'content-type'} // '') =~ m{^application/json} && ($b->{error}{code} // '') eq 'NOT_FOUND',
   'event stream with chatroom id abc: 404 JSON NOT_FOUND') or diag("$st $raw");
my $r = sse_read($other->{token}, $jobs[0]{room}, 999999999, timeout => 5);
ok($r->{status} == 404 && $r->{head} !~ m{text/event-stream}i && !@{ $r->{events} },
   'event stream of a message that does not exist (raw socket): 404, no frames') or diag($r->{raw});

# ==== 4. X-RateLimit-* on 202, 502 and the replay of a failed prompt ===========================
my ($T4, $room4) = fresh('rate headers');
sub rl_ok {
    my ($h, $name, $remaining) = @_;
    my $ok = ($h->{'x-ratelimit-limit'} // '') eq '5'
          && ($h->{'x-ratelimit-remaining'} // '') =~ /^\d+$/
          && ($h->{'x-ratelimit-reset'} // '') =~ /^\d+$/;
    ok($ok, "$name: X-RateLimit-Limit 5, -Remaining and -Reset present")
        or diag(join ', ', map { "$_=" . ($h->{$_} // 'undef') } qw(x-ratelimit-limit x-ratelimit-remaining x-ratelimit-reset));
    if (defined $remaining) {
        is($h->{'x-ratelimit-remaining'}, $remaining, "$name: X-RateLimit-Remaining $remaining");
    }
}
my $mid0 = next_midnight();
($st, $h, $b) = post_prompt($T4, $room4, "accepted $tag", async => 1);
my $mid1 = next_midnight();
is($st, 202, 'an async prompt: 202');
rl_ok($h, '202', 4);
ok(($h->{'x-ratelimit-reset'} // 0) == $mid0 || ($h->{'x-ratelimit-reset'} // 0) == $mid1,
   "202: X-RateLimit-Reset is the next UTC midnight ($mid1)") or diag($h->{'x-ratelimit-reset'});
wait_reply_final($T4, $room4, $b->{data}{reply}{id}, 15);

my $key = "t78-key-$$";
my $ftext = "fails $tag [[gc:status=400]]";
($st, $h, $b, $raw) = post_prompt($T4, $room4, $ftext, key => $key);
is($st, 502, 'a failing prompt: 502') or diag($raw);
is($b->{error}{code} // '', 'UPSTREAM_ERROR', '... UPSTREAM_ERROR');
rl_ok($h, '502');
ok(($h->{'x-ratelimit-remaining'} // -1) == 3 || ($h->{'x-ratelimit-remaining'} // -1) == 4,
   "502: Remaining 3 (charged) or 4 (already refunded): $h->{'x-ratelimit-remaining'}");
ok(($h->{'x-ratelimit-reset'} // 0) >= $mid1 && ($h->{'x-ratelimit-reset'} // 0) <= next_midnight(),
   '502: X-RateLimit-Reset the next UTC midnight');
my $failed_reply = $b->{data}{reply}{id};
my $failed_um = $b->{data}{user_message}{id};
ok(wait_until(sub { used_today($T4) == 1 }, 5), '... refunded (used_today 1)');
my $calls = calls_for(qr/^fails \Q$tag\E/);
($st, $h, $b, $raw) = post_prompt($T4, $room4, $ftext, key => $key);
is($st, 502, 'the same Idempotency-Key again: 502 again') or diag($raw);
ok(defined $failed_reply && ($b->{data}{reply}{id} // 0) == $failed_reply
   && ($b->{data}{user_message}{id} // 0) == $failed_um, '... the same reply and user message ids');
ok(($b->{error}{code} // '') eq 'UPSTREAM_ERROR' && ($b->{data}{reply}{status} // '') eq 'failed',
   '... UPSTREAM_ERROR, reply failed');
rl_ok($h, 'replay 502', 4);
ok(($h->{'x-ratelimit-reset'} // 0) >= $mid1 && ($h->{'x-ratelimit-reset'} // 0) <= next_midnight(),
   'replay 502: X-RateLimit-Reset the next UTC midnight');
is(used_today($T4), 1, '... the replay was not charged');
is(calls_for(qr/^fails \Q$tag\E/), $calls, '... nor sent to Gemini again');
is(psql("SELECT count(*) FROM messages WHERE chatroom_id = $room4"), 4, '... nor stored again');

# ==== 5. /metrics: the 5xx counter of POST /chatroom/:id/message ================================
sub metric {
    my ($text, $series) = @_;
    for my $line (split /\n/, $text // '') {
        return $1 if index($line, "$series ") == 0 && $line =~ / (\d+)$/;
    }
    return 0;
}
sub scrape { my ($s, undef, undef, $t) = api_get('/metrics'); die "metrics: $s\n" unless $s == 200; return $t }
my $s5 = 'gemclone_http_requests_total{method="POST",route="/chatroom/:id/message",code="5xx"}';
my $s2 = 'gemclone_http_requests_total{method="POST",route="/chatroom/:id/message",code="2xx"}';
my ($T5, $room5) = fresh('metrics');
my $before = scrape();
($st) = post_prompt($T5, $room5, "metrics fail $tag [[gc:status=400]]");
is($st, 502, 'a failing prompt for the metrics: 502');
my $after;
wait_until(sub { $after = scrape(); metric($after, $s5) > metric($before, $s5) }, 3);
sleep 0.3;
$after = scrape();
is(metric($after, $s5) - metric($before, $s5), 1, 'the route\'s code="5xx" counter went up by exactly 1')
    or diag(join "\n", grep { /route="\/chatroom\/:id\/message"/ } split /\n/, $after);
is(metric($after, $s2) - metric($before, $s2), 0, '... its 2xx counter did not move');

# ==== 2. Redis stopped under an open event stream ===============================================
my ($T2, $room2) = fresh('redis outage');
my $rtext = "outage $tag [[gc:slow=3000]][[gc:chunks=2]]";
($st, undef, $b) = post_prompt($T2, $room2, $rtext, async => 1);
is($st, 202, 'a slow prompt (about 6 s): 202');
my $rid = $b->{data}{reply}{id};
my $dir = File::Temp::tempdir('gc-t78-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $reader = fork // die "fork: $!";
if (!$reader) {
    my @at;
    my $res = eval { sse_read($T2, $room2, $rid, timeout => 30, on_frame => sub { push @at, time }) };
    open my $fh, '>', "$dir/sse.json" or POSIX::_exit(1);
    my $ev = $res ? $res->{events} : [];
    print $fh json_encode({
        status => $res ? $res->{status} : 0, head => $res ? $res->{head} : '', error => $res ? $res->{error} : "$@",
        ended => ($res && $res->{raw} =~ /\r\n0\r\n\r\n\z/) ? 1 : 0,
        frames => [ map { { abs => $at[$_], event => $ev->[$_]{event}, comment => $ev->[$_]{comment},
                            data => $ev->[$_]{data} } } 0 .. $#$ev ],
    });
    close $fh;
    POSIX::_exit(0);
}
sleep 1.5;
my $t_down = time;
redis_stop();
$redis_down = 1;
sleep 3.5;
my $up_during = 1;
for (1 .. 5) { my ($s) = api_get('/health'); $up_during &&= $s == 200 }
ok($up_during, 'Redis down: httpd still answers /health');
my $t_up = time;
redis_start();
$redis_down = 0;
ok(wait_until(sub { (api_get('/ready'))[0] == 200 }, 10), 'Redis back: /ready 200');
my $rfinal = wait_reply_final($T2, $room2, $rid, 20);
is($rfinal->{status}, 'done', 'the reply finishes after the outage');
is($rfinal->{content}, "Echo: $rtext", '... with its answer');
waitpid($reader, 0);
my $seen = do { local $/; open my $fh, '<', "$dir/sse.json" or die "no stream result"; json_decode(scalar <$fh>) } || {};
my @fr = @{ $seen->{frames} || [] };
my $ftxt = join ' ', map { $_->{event} // ": $_->{comment}" } @fr;
is($seen->{status}, 200, 'the open stream: 200');
my @ka_down = grep { defined $_->{comment} && $_->{comment} eq 'keep-alive'
                     && $_->{abs} > $t_down + 0.5 && $_->{abs} < $t_up } @fr;
ok(@ka_down >= 2, scalar(@ka_down) . ' keep-alives while Redis was down: the stream kept going') or diag($ftxt);
ok(!$seen->{error}, 'the stream ended by itself, no hang (' . ($seen->{error} // 'no error') . ')') or diag($ftxt);
ok($seen->{ended}, '... cleanly (the last chunk sent)');
my $last = $fr[-1] || {};
ok(($last->{event} // '') eq 'message' && ($last->{data}{status} // '') eq 'done'
   && ($last->{data}{content} // '') eq "Echo: $rtext",
   '... with the final message event, done') or diag($ftxt);
$r = sse_read($T2, $room2, $rid, timeout => 10);
ok($r->{status} == 200 && @{ $r->{events} } == 1 && ($r->{events}[0]{event} // '') eq 'message',
   'a new event stream after the outage: just the final message event') or diag(frames($r));
is($r->{events}[0]{data}{content}, "Echo: $rtext", '... with the content');
($st, undef, $b) = post_prompt($T2, $room2, "after outage $tag");
ok($st == 200 && ($b->{data}{reply}{content} // '') eq "Echo: after outage $tag",
   'a prompt after the outage is answered');
my @crash = error_log_grep(qr/Segmentation fault|exit signal|double free|AddressSanitizer|AH00052|core dumped/, $mark);
ok(!@crash, 'no crash in the error log') or diag(join "\n", @crash);
