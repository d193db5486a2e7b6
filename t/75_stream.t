# The event stream of a reply (API.md, "Event stream"): GET
# /chatroom/:id/messages/:mid with Accept: text/event-stream sends `delta`
# events as the worker streams Gemini's answer (the first before the reply
# is complete), `: keep-alive` comments while quiet (GemCloneEventKeepAlive
# 1 in the suite), `reset` when a generation starts over (the pieces after
# the last reset add up to the content), then one `message` event with the
# final row, and closes. A final message gives only that event; a failed
# reply's final content is null with an error; a client that leaves early
# harms nothing. Read through a raw socket with timestamps (GC::Test::sse_read).
use strict;
use warnings FATAL => 'all';

use Apache::Test qw(-withtestmore);
use Time::HiRes qw(time sleep);
use GC::Test;

plan tests => 49;

clock_reset();
gemini_control();
END { eval { gemini_control() } }

my $tag = "t75-$$";

sub fresh {
    my $u = signup_and_login();
    return ($u->{token}, new_room($u->{token}, 'stream'));
}
sub events_named { my ($r, $name) = @_; return grep { ($_->{event} // '') eq $name } @{ $r->{events} } }
sub frames { my $r = shift; return join ' ', map { $_->{event} // ": $_->{comment}" } @{ $r->{events} } }

# ---- streaming as it is generated ------------------------------------------------------------
my ($T, $room) = fresh();
my $text = "stream me $tag [[gc:slow=500]][[gc:chunks=4]]";
my ($st, undef, $b) = post_prompt($T, $room, $text, async => 1);
is($st, 202, 'a slow prompt, async: 202');
my $rid = $b->{data}{reply}{id};
my $state_at_first_delta;
my $r = sse_read($T, $room, $rid, timeout => 20, on_frame => sub {
    my $ev = shift;
    return if defined $state_at_first_delta || ($ev->{event} // '') ne 'delta';
    my (undef, undef, $bb) = api_get("/chatroom/$room/messages/$rid", token => $T);
    $state_at_first_delta = $bb->{data}{status};
});
is($r->{status}, 200, 'event stream: 200');
like($r->{head}, qr{^Content-Type: text/event-stream}mi, 'Content-Type text/event-stream');
ok(!$r->{error}, 'the stream ended by itself (closed after the final event)');
my @deltas = events_named($r, 'delta');
my @finals = events_named($r, 'message');
ok(@deltas >= 2, 'several delta events (' . scalar(@deltas) . ')') or diag(frames($r));
ok(!(grep { ref $_->{data} ne 'HASH' || join(',', keys %{ $_->{data} }) ne 'text' } @deltas),
   'each delta data is {"text": ...}');
is(scalar @finals, 1, 'exactly one message event') or diag($r->{raw});
is(($r->{events}[-1]{event} // ''), 'message', 'the message event comes last');
my $final = $finals[0]{data};
is($final->{id}, $rid, 'the final event carries the reply');
is($final->{status}, 'done', '... done');
is($final->{content}, "Echo: $text", '... with its content');
is(join('', map { $_->{data}{text} } @deltas), $final->{content}, 'the deltas add up to the final content');
is($state_at_first_delta, 'pending', 'the first delta arrived while the reply was still pending');
ok($deltas[0]{at} < $finals[0]{at} - 0.8,
   sprintf('first delta at %.2f s, final at %.2f s: real streaming', $deltas[0]{at}, $finals[0]{at}));
is_deeply([sort keys %$final], [qw(chatroom_id completed_at content created_at error id role status)],
          'the final event is a whole message object');
ok(!(events_named($r, 'reset')), 'no reset in a plain generation');

# ---- an already final message: just the final event -------------------------------------------
$r = sse_read($T, $room, $rid, timeout => 10);
is($r->{status}, 200, 'a done reply: 200');
is(scalar @{ $r->{events} }, 1, 'a done reply: one frame') or diag(frames($r));
is($r->{events}[0]{event}, 'message', '... the message event');
is($r->{events}[0]{data}{content}, "Echo: $text", '... with the content');
my $umid = $b->{data}{user_message}{id};
$r = sse_read($T, $room, $umid, timeout => 10);
ok(@{ $r->{events} } == 1 && $r->{events}[0]{data}{role} eq 'user', "the user's own message: just its final event");

# ---- keep-alives while quiet -----------------------------------------------------------------
$text = "quiet $tag [[gc:slow=2500]][[gc:chunks=1]]";
($st, undef, $b) = post_prompt($T, $room, $text, async => 1);
$rid = $b->{data}{reply}{id};
$r = sse_read($T, $room, $rid, timeout => 20);
my $first_delta = (events_named($r, 'delta'))[0];
my @ka = grep { defined $_->{comment} && $_->{comment} eq 'keep-alive'
                && (!$first_delta || $_->{at} < $first_delta->{at}) } @{ $r->{events} };
ok(@ka >= 2, scalar(@ka) . ' keep-alive comments during 2.5 quiet seconds (every 1 s)') or diag(frames($r));
ok(@ka >= 2 && $ka[1]{at} - $ka[0]{at} > 0.5 && $ka[1]{at} - $ka[0]{at} < 2,
   sprintf('... about a second apart (%.2f s)', @ka >= 2 ? $ka[1]{at} - $ka[0]{at} : -1));
like($r->{raw}, qr/\n: keep-alive\n\n/, 'the comment is ": keep-alive" then a blank line');
is(($r->{events}[-1]{event} // ''), 'message', 'the stream still ends with the message');
is($r->{events}[-1]{data}{content}, "Echo: $text", '... done');

# ---- a retry mid-stream: reset ------------------------------------------------------------------
# The next generate call streams half its chunks, then a 503 error chunk
# (with RetryInfo 1s); the worker retries and the second attempt succeeds.
gemini_control({ stream_error => 503, retry_delay => '1s', count => 1 });
$text = "retried $tag [[gc:slow=300]][[gc:chunks=4]]";
($st, undef, $b) = post_prompt($T, $room, $text, async => 1);
$rid = $b->{data}{reply}{id};
$r = sse_read($T, $room, $rid, timeout => 20);
my @names = map { $_->{event} } grep { $_->{event} } @{ $r->{events} };
my ($reset_at) = grep { $names[$_] eq 'reset' } 0 .. $#names;
ok(defined $reset_at, 'a reset event') or diag("@names");
ok(defined $reset_at && (grep { $_ eq 'delta' } @names[0 .. $reset_at]), 'pieces came before the reset (mid-stream)');
my @ev = grep { $_->{event} } @{ $r->{events} };
my ($rs) = grep { $ev[$_]{event} eq 'reset' } 0 .. $#ev;
is_deeply(defined $rs ? $ev[$rs]{data} : undef, {}, 'reset data {}');
my $last_reset = (grep { $ev[$_]{event} eq 'reset' } 0 .. $#ev)[-1] // -1;
my $after = join '', map { $_->{data}{text} } grep { $_->{event} eq 'delta' } @ev[$last_reset + 1 .. $#ev];
$final = $ev[-1]{data};
is($final->{status}, 'done', 'the reply is done after the retry');
is($final->{content}, "Echo: $text", '... with the whole text');
is($after, $final->{content}, 'the pieces after the last reset add up to the final content');
my $all = join '', map { $_->{data}{text} } grep { $_->{event} eq 'delta' } @ev;
isnt($all, $final->{content}, 'all pieces together would not (the reset matters)');
my @calls = grep { ($_->{last_user_text} // '') eq $text } gemini_requests();
is(scalar @calls, 2, 'Gemini was called twice');

# ---- failed replies -----------------------------------------------------------------------------
($st, undef, $b) = post_prompt($T, $room, "rejected $tag [[gc:status=400]]");
is($st, 502, 'a failed reply (502)');
$r = sse_read($T, $room, $b->{data}{reply}{id}, timeout => 10);
is(scalar @{ $r->{events} }, 1, 'its stream: one frame');
$final = $r->{events}[0]{data};
ok($r->{events}[0]{event} eq 'message' && $final->{status} eq 'failed', '... the final message, failed');
ok(exists $final->{content} && !defined $final->{content}, '... content null');
like($final->{error} // '', qr/\S/, "... with an error ($final->{error})");

$text = "unsafe $tag [[gc:slow=300]][[gc:chunks=3]][[gc:finish=SAFETY]]";
($st, undef, $b) = post_prompt($T, $room, $text, async => 1);
$r = sse_read($T, $room, $b->{data}{reply}{id}, timeout => 20);
$final = $r->{events}[-1]{data};
ok(($r->{events}[-1]{event} // '') eq 'message' && $final->{status} eq 'failed',
   'stopped for SAFETY while streaming: the final message is failed') or diag(frames($r));
ok(!defined $final->{content}, '... content null (the pieces sent do not count)');
like($final->{error} // '', qr/SAFETY/, '... error names SAFETY');

# ---- not yours: 404, no stream --------------------------------------------------------------------
my $other = signup_and_login();
$r = sse_read($other->{token}, $room, $rid, timeout => 10);
is($r->{status}, 404, "another user's reply: 404");
unlike($r->{head} // '', qr{text/event-stream}, '... not an event stream');

# ---- a client that leaves early ------------------------------------------------------------------
my $mark = error_log_mark();
$text = "left early $tag [[gc:slow=300]][[gc:chunks=5]]";
($st, undef, $b) = post_prompt($T, $room, $text, async => 1);
$rid = $b->{data}{reply}{id};
$r = sse_read($T, $room, $rid, timeout => 10, stop_after => 1);
ok(@{ $r->{events} } == 1, 'a client reads one frame and hangs up');
$r = sse_read($T, $room, $rid, timeout => 0.3);    # and one that gives up at once
my $done = wait_reply_final($T, $room, $rid, 15);
is($done->{status}, 'done', 'the reply completes all the same');
sleep 1.5;    # past a keep-alive: the abandoned streams have written and ended
my $ok = 1;
for (1 .. 20) { my ($s) = api_get('/health'); $ok &&= $s == 200 }
ok($ok, 'the server answers 20 requests after the hang-ups');
$r = sse_read($T, $room, $rid, timeout => 10);
is(($r->{events}[0]{data}{content} // ''), "Echo: $text", 'a new stream of the same reply works');
my @crash = error_log_grep(qr/Segmentation fault|exit signal|double free|AddressSanitizer|AH00052/, $mark);
ok(!@crash, 'no crash in the error log') or diag(join "\n", @crash);
