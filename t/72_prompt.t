# Prompts (API.md, "Chatrooms and messages"): POST /chatroom/:id/message
# stores the prompt and a pending reply, the worker answers through the
# Gemini stand-in ("Echo: <text>"), and the request waits for it (200), or
# answers 202 with Location (Prefer: respond-async, the wait running out, the
# waiter cap reached). Content aliases, trimming, the length limit; the
# history the worker sends (earlier completed exchanges oldest first, failed
# and pending ones left out, within the budget); permanent failures (502,
# refunded), MAX_TOKENS, and retries of 429/503.
use strict;
use warnings FATAL => 'all';

use Apache::Test qw(-withtestmore);
use Apache::TestRequest ();
use POSIX ();
use Time::HiRes qw(time);
use GC::Test;

plan tests => 131;

clock_reset();
gemini_control();
END { Apache::TestRequest::module('default') }

my $RFC3339 = qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;
my $tag = "t72-$$";   # keeps this run's prompts apart in the stand-in's log

# A fresh user and room: the Basic limit is 5 prompts a day.
sub fresh {
    my $u = signup_and_login();
    return ($u->{token}, new_room($u->{token}, shift // 'prompt tests'), $u);
}

# The generate calls whose last user text contains STR.
sub calls_for {
    my $str = shift;
    return grep { ($_->{last_user_text} // '') =~ /\Q$str\E/ } gemini_requests();
}

sub used_today {
    my $t = shift;
    my ($st, undef, $b) = api_get('/subscription/status', token => $t);
    return $st == 200 ? $b->{data}{used_today} : "status $st";
}

# ---- the plain exchange ------------------------------------------------------------------
my ($T, $room) = fresh();
my $t0 = time;
my ($st, $h, $b, $raw) = post_prompt($T, $room, "Hello $tag");
is($st, 200, 'POST message: 200 (waited for the reply)') or diag($raw);
ok($b->{success}, 'success true');
is_deeply([sort keys %{ $b->{data} }], [qw(reply user_message)], 'data {user_message, reply}');
my ($um, $rp) = @{ $b->{data} }{qw(user_message reply)};
is_deeply([sort keys %$um], [qw(chatroom_id completed_at content created_at error id role status)],
          'user_message: a message object');
is($um->{role}, 'user', 'user_message role user');
is($um->{content}, "Hello $tag", 'user_message content');
is($um->{status}, 'done', 'user_message status done');
is($um->{chatroom_id}, $room, 'user_message chatroom_id');
is($rp->{role}, 'model', 'reply role model');
is($rp->{status}, 'done', 'reply status done');
is($rp->{content}, "Echo: Hello $tag", 'reply content: the stand-in echo');
ok(!defined $rp->{error}, 'reply error null');
like($rp->{completed_at} // '', $RFC3339, 'reply completed_at set');
ok($rp->{id} > $um->{id}, 'reply id after the prompt id');
like($h->{'x-ratelimit-limit'} // '', qr/^5$/, 'X-RateLimit-Limit 5');
is($h->{'x-ratelimit-remaining'}, 4, 'X-RateLimit-Remaining 4');
ok(!defined $h->{location}, 'no Location on a 200');
my @c = calls_for("Hello $tag");
is(scalar @c, 1, 'the stand-in got one call');
like($c[0]{path} // '', qr/:streamGenerateContent$/, 'the worker streamed (streamGenerateContent)');
is($c[0]{model}, 'gemini-2.5-flash', 'the configured model');
is($c[0]{turns}, 1, 'a new room: one turn');
(undef, undef, $b) = api_get("/chatroom/$room/messages/$rp->{id}", token => $T);
is($b->{data}{content}, "Echo: Hello $tag", 'GET the reply: the same content');

# ---- aliases, trimming, length --------------------------------------------------------
($st, undef, $b) = api_post("/chatroom/$room/message", token => $T,
                            json => { message => "  via message $tag \x{a0}\n" });
is($st, 200, 'message alias: 200');
is($b->{data}{user_message}{content}, "via message $tag", 'content trimmed');
is($b->{data}{reply}{content}, "Echo: via message $tag", 'the worker got the trimmed text');
($st, undef, $b) = api_post("/chatroom/$room/message", token => $T, json => { text => "via text $tag" });
is($b->{data}{user_message}{content}, "via text $tag", 'text alias');
($st, undef, $b) = api_post("/chatroom/$room/message", token => $T,
                            json => { text => 't', message => 'm', content => "canonical $tag" });
is($b->{data}{user_message}{content}, "canonical $tag", 'content wins over its aliases');

my ($T2, $room2) = fresh();
for my $case ([ { content => '' }, 'empty' ], [ { content => "  \t\n " }, 'blank after trimming' ],
              [ {}, 'missing' ], [ { content => 12 }, 'a number' ],
              [ { content => 'x' x 8001 }, '8001 code points' ],
              [ { content => "\x{e9}" x 8001 }, '8001 two-byte code points' ],
              [ { content => "a\x{0}b" }, 'holding NUL' ]) {
    ($st, undef, $b) = api_post("/chatroom/$room2/message", token => $T2, json => $case->[0]);
    ok($st == 400 && $b->{error}{code} eq 'VALIDATION_ERROR' && ($b->{error}{field} // '') eq 'content',
       "content $case->[1]: 400 VALIDATION_ERROR field content") or diag($st);
}
is(used_today($T2), 0, 'refused prompts are not counted');
is(psql("SELECT count(*) FROM messages WHERE chatroom_id = $room2"), 0, '... nor stored');
my $long = ("\x{e9}" x 8000) . $tag;
$long = substr($long, length($long) - 8000);
($st, undef, $b, $raw) = post_prompt($T2, $room2, $long);
is($st, 200, '8000 code points (multi-byte): 200');
is(length($b->{data}{user_message}{content} // q()), 8000, "... stored whole") or diag(substr($raw // q(), 0, 300));
($st, undef, $b) = api_post("/chatroom/$room2/message", token => $T2, body => '{"content": "x"',
                            headers => { 'Content-Type' => 'application/json' });
is($st, 400, 'unparseable JSON: 400');
($st) = api_post("/chatroom/$room2/message", token => $T2, body => 'content=x',
                 headers => { 'Content-Type' => 'application/x-www-form-urlencoded' });
is($st, 415, 'a form body: 415');

# ---- history ---------------------------------------------------------------------------
my ($T3, $room3) = fresh('history');
post_prompt($T3, $room3, "first $tag");
post_prompt($T3, $room3, "second $tag");
($st) = post_prompt($T3, $room3, "broken $tag [[gc:status=400]]");
is($st, 502, 'a failed exchange in the middle');
($st, undef, $b) = post_prompt($T3, $room3, "pending $tag [[gc:slow=2000]][[gc:chunks=1]]", async => 1);
is($st, 202, 'a pending exchange right before');
my $pending_reply = $b->{data}{reply}{id};
($st, undef, $b) = post_prompt($T3, $room3, "with context $tag [[gc:context]]");
is($st, 200, 'a prompt with the history: 200');
@c = calls_for("with context $tag");
my $contents = $c[0]{body}{contents};
is_deeply([map { $_->{role} } @$contents], [qw(user model user model user)],
          'roles alternate: two completed exchanges, then the new turn');
is_deeply([map { $_->{parts}[0]{text} } @$contents],
          ["first $tag", "Echo: first $tag", "second $tag", "Echo: second $tag",
           "with context $tag [[gc:context]]"],
          'oldest first, failed and pending exchanges left out, the new user turn last');
like($b->{data}{reply}{content}, qr/^Context \(5 turns\)/, 'the stand-in saw 5 turns');
is(wait_reply_final($T3, $room3, $pending_reply)->{status}, 'done', 'the pending one completes later');
ok(!(grep { !defined $_->{parts} || grep { !length($_->{text} // '') } @{ $_->{parts} } } @$contents),
   'no empty turn sent');

# The budget (24,000 characters by default): the oldest exchanges go first.
my ($T4, $room4) = fresh('budget');
my $big1 = "big-one $tag " . ('a' x 7000);
my $big2 = "big-two $tag " . ('b' x 7000);
($st) = post_prompt($T4, $room4, $big1);
is($st, 200, 'a 7000-character exchange');
($st) = post_prompt($T4, $room4, $big2);
is($st, 200, 'another one');
($st, undef, $b) = post_prompt($T4, $room4, "small $tag [[gc:context]]");
@c = calls_for("small $tag");
$contents = $c[0]{body}{contents};
is(scalar @$contents, 3, 'two exchanges of ~14,000 characters each: only the newest fits');
like($contents->[0]{parts}[0]{text}, qr/^big-two /, '... the newest exchange kept, the oldest dropped');
is($contents->[0]{role}, 'user', '... starting with its user turn');
my $chars = 0;
$chars += length($_->{parts}[0]{text}) for @$contents[0 .. $#$contents - 1];
ok($chars <= 24000, "history within the 24,000-character budget ($chars)");

# ---- Prefer: respond-async --------------------------------------------------------------
my ($T5, $room5) = fresh('async');
$t0 = time;
($st, $h, $b) = post_prompt($T5, $room5, "async $tag", async => 1);
my $el = time - $t0;
is($st, 202, 'Prefer: respond-async: 202');
ok($el < 2, sprintf('... at once (%.2f s)', $el));
is($b->{data}{reply}{status}, 'pending', 'reply pending');
ok(exists $b->{data}{reply}{content} && !defined $b->{data}{reply}{content}, 'pending content null');
ok(!defined $b->{data}{reply}{completed_at}, 'pending completed_at null');
is($b->{data}{user_message}{content}, "async $tag", 'user_message in the 202');
my $loc = "/chatroom/$room5/messages/$b->{data}{reply}{id}";
is($h->{location}, $loc, 'Location points at the reply');
is($h->{'x-ratelimit-remaining'}, 4, '202: counted (Remaining 4)');
my $final = wait_reply_final($T5, $room5, $b->{data}{reply}{id});
is($final->{status}, 'done', 'polling the Location: done');
is($final->{content}, "Echo: async $tag", '... with the echo');
($st, undef, $b) = api_get($loc, token => $T5);
is($st, 200, 'GET Location: 200');

# The wait runs out: a virtual host with GemCloneReplyWait 1.
Apache::TestRequest::module('short_wait');
$t0 = time;
($st, $h, $b) = post_prompt($T5, $room5, "too slow $tag [[gc:slow=2500]][[gc:chunks=1]]");
$el = time - $t0;
Apache::TestRequest::module('default');
is($st, 202, 'the wait (1 s) runs out: 202');
ok($el >= 0.9 && $el < 2.4, sprintf('... after about the wait (%.2f s)', $el));
is($b->{data}{reply}{status}, 'pending', '... reply pending');
like($h->{location} // '', qr{^/chatroom/$room5/messages/\d+$}, '... with Location');
is(wait_reply_final($T5, $room5, $b->{data}{reply}{id})->{status}, 'done', '... done later');

# The waiter cap: a virtual host allowing one waiting request per child.
# Four slow prompts at once: at most two wait (two children), the others
# get 202 at once.
my ($T6, $room6) = fresh('waiters');
Apache::TestRequest::module('waiter_cap');
my @kids;
pipe(my $rd, my $wr) or die;
for my $i (1 .. 4) {
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        close $rd;
        my $s0 = time;
        my ($s, undef, $bb) = eval { post_prompt($T6, $room6, "waiter $i $tag [[gc:slow=2500]][[gc:chunks=1]]") };
        printf $wr "%d %.3f %s\n", $s // 0, time - $s0, ($bb && $bb->{data}{reply}{status}) // '-';
        close $wr;
        POSIX::_exit(0);
    }
    push @kids, $pid;
}
close $wr;
my @res = map { [split ' '] } grep { /\S/ } <$rd>;
waitpid($_, 0) for @kids;
Apache::TestRequest::module('default');
my @quick = grep { $_->[0] == 202 && $_->[1] < 1.5 } @res;
my @waited = grep { $_->[0] == 200 && $_->[2] eq 'done' } @res;
is(scalar @res, 4, 'four answers');
ok(@quick >= 2, 'waiter cap reached: at least two got 202 at once (' . join(', ', map { "@$_" } @res) . ')');
ok(@waited >= 1, 'below the cap a request still waits for its reply (200 done)');
is(@quick + @waited, 4, 'every answer is a quick 202 or a waited 200');

# ---- permanent failures: 502, refunded ---------------------------------------------------
my ($T7, $room7) = fresh('failures');
post_prompt($T7, $room7, "one ok $tag");
is(used_today($T7), 1, 'one prompt used');
for my $case ([ '[[gc:status=400]]', qr/400/, 'HTTP 400 from Gemini' ],
              [ '[[gc:block=SAFETY]]', qr/blocked.*SAFETY|SAFETY.*blocked/i, 'a blocked prompt' ],
              [ '[[gc:finish=SAFETY]]', qr/SAFETY/, 'finishReason SAFETY' ],
              [ '[[gc:finish=RECITATION]]', qr/RECITATION/, 'finishReason RECITATION' ],
              [ '[[gc:finish=MAX_TOKENS-empty]]', qr/MAX_TOKENS/, 'MAX_TOKENS without text' ]) {
    my ($marker, $why, $name) = @$case;
    ($st, $h, $b, $raw) = post_prompt($T7, $room7, "fail $tag $marker");
    is($st, 502, "$name: 502") or diag($raw);
    ok(!$b->{success} && $b->{error}{code} eq 'UPSTREAM_ERROR', "$name: error code UPSTREAM_ERROR");
    my $r = $b->{data}{reply} // {};
    ok($r->{status} eq 'failed' && exists $r->{content} && !defined $r->{content},
       "$name: data.reply failed with content null");
    like($r->{error} // '', $why, "$name: reply.error says why ($r->{error})");
    is($b->{data}{user_message}{content}, "fail $tag $marker", "$name: data.user_message");
    ok(defined $h->{'x-ratelimit-remaining'}, "$name: rate-limit headers on the 502");
    ok(wait_until(sub { used_today($T7) == 1 }, 5), "$name: refunded (used_today back to 1)");
}
is(psql("SELECT count(*) FROM messages WHERE chatroom_id = $room7 AND role = 'model' AND refunded"), 5,
   'five failed replies marked refunded in PostgreSQL');
($st, $h) = post_prompt($T7, $room7, "two ok $tag");
is($st, 200, 'after five failures a prompt is still accepted');
is($h->{'x-ratelimit-remaining'}, 3, 'X-RateLimit-Remaining 3: failures were given back');
@c = calls_for("fail $tag [[gc:status=400]]");
is(scalar @c, 1, 'a 400 is not retried');

# ---- MAX_TOKENS with text ------------------------------------------------------------------
my $mt = "truncate me please $tag [[gc:finish=MAX_TOKENS]]";
($st, undef, $b) = post_prompt($T7, $room7, $mt);
is($st, 200, 'MAX_TOKENS with text: 200');
is($b->{data}{reply}{status}, 'done', '... done');
is($b->{data}{reply}{error}, 'reply truncated (MAX_TOKENS)', '... error "reply truncated (MAX_TOKENS)"');
my $full = "Echo: $mt";
is($b->{data}{reply}{content}, substr($full, 0, int(length($full) / 2)), '... the partial text kept');

# ---- retries ---------------------------------------------------------------------------------
my ($T8, $room8) = fresh('retries');
my $flaky = "flaky 503 $tag [[gc:fail=503x2]][[gc:retry-delay=1s]]";
$t0 = time;
($st, undef, $b) = post_prompt($T8, $room8, $flaky);
$el = time - $t0;
is($st, 200, 'two 503s, then success: 200');
is($b->{data}{reply}{status}, 'done', '... done');
is($b->{data}{reply}{content}, "Echo: $flaky", '... the answer of the third attempt');
ok(!defined $b->{data}{reply}{error}, '... no error');
@c = calls_for("flaky 503 $tag");
is_deeply([map { $_->{status} } @c], [503, 503, 200], 'three attempts: 503, 503, 200');
ok($el >= 1.9, sprintf('RetryInfo 1s honoured between attempts (%.2f s)', $el));
my $limited = "flaky 429 $tag [[gc:fail=429x1]][[gc:retry-delay=1s]]";
($st, undef, $b) = post_prompt($T8, $room8, $limited);
ok($st == 200 && $b->{data}{reply}{content} eq "Echo: $limited", 'a 429 is retried too: 200 done');
is(scalar(calls_for("flaky 429 $tag")), 2, '... after two attempts');
my $gen = psql("SELECT generation FROM messages WHERE id = $b->{data}{reply}{id}");
is($gen, 1, 'retries within one job keep generation 1');
my $proxy = "proxy 502 $tag [[gc:fail=500x1]][[gc:retry-delay=1s]]";
($st, undef, $b) = post_prompt($T8, $room8, $proxy);
ok($st == 200 && $b->{data}{reply}{status} eq 'done', 'a 500 is retried: 200 done');
($st, undef, $b) = post_prompt($T8, $room8, "not found $tag [[gc:status=404]]");
ok($st == 502 && $b->{data}{reply}{status} eq 'failed', 'a 404 is permanent: 502');
is(scalar(calls_for("not found $tag")), 1, '... not retried');
($st, undef, $b) = post_prompt($T8, $room8, "forbidden $tag [[gc:status=403]]");
ok($st == 502 && scalar(calls_for("forbidden $tag")) == 1, 'a 403 is permanent and not retried');
