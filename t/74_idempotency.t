# Idempotency-Key on POST /chatroom/:id/message (API.md): a retry with the
# same key and content within 24 h returns the original user_message and
# reply in their current state (200 done, 502 failed, pending as Prefer
# says), is neither stored nor charged again, and is never 429; the same
# key with other content or another room is 409 CONFLICT; concurrent
# duplicates store one prompt; after 24 h the key is new again.
use strict;
use warnings FATAL => 'all';

use Apache::Test qw(-withtestmore);
use POSIX ();
use GC::Test;

plan tests => 60;

clock_reset();
gemini_control();
END { clock_reset() }

my $tag = "t74-$$";

sub used_today {
    my $t = shift;
    my ($st, undef, $b) = api_get('/subscription/status', token => $t);
    return $st == 200 ? $b->{data}{used_today} : "status $st";
}
sub ids_of { my $b = shift; return [ $b->{data}{user_message}{id}, $b->{data}{reply}{id} ] }

my $u = signup_and_login();
my $T = $u->{token};
my $uid = $u->{user}{id};
my $room = new_room($T, 'idempotency');
my $room_b = new_room($T, 'another room');

# ---- replay of a done prompt ---------------------------------------------------------------
my $K1 = "key-one-$tag";
my ($st, $h, $b, $raw) = post_prompt($T, $room, "idem one $tag", key => $K1);
is($st, 200, 'first POST with a key: 200');
my $ids1 = ids_of($b);
my $reply1 = $b->{data}{reply};
is(used_today($T), 1, 'charged once');
($st, $h, $b) = post_prompt($T, $room, "idem one $tag", key => $K1);
is($st, 200, 'same key, same content: 200');
is_deeply(ids_of($b), $ids1, '... the same user_message and reply ids');
is_deeply($b->{data}{reply}, $reply1, '... the reply in its current (done) state');
is(used_today($T), 1, '... not charged again (used_today 1)');
is($h->{'x-ratelimit-remaining'}, 4, '... X-RateLimit-Remaining unchanged (4)');
is(psql("SELECT count(*) FROM messages WHERE chatroom_id = $room"), 2, '... nothing stored again');
($st, undef, $b) = api_post("/chatroom/$room/message", token => $T,
                            json => { message => "   idem one $tag \n" },
                            headers => { 'Idempotency-Key' => $K1 });
ok($st == 200 && ids_of($b)->[0] == $ids1->[0],
   'same content through an alias and with padding: the same prompt');
is(scalar(grep { ($_->{last_user_text} // '') eq "idem one $tag" } gemini_requests()), 1,
   'Gemini was asked once');
(undef, undef, $b) = api_get("/chatroom/$room", token => $T);
is($b->{data}{message_count}, 2, 'message_count still 2');

# ---- conflicts --------------------------------------------------------------------------------
($st, $h, $b) = post_prompt($T, $room, "something else $tag", key => $K1);
is($st, 409, 'same key, other content: 409');
is($b->{error}{code}, 'CONFLICT', '... CONFLICT');
like($h->{'x-ratelimit-limit'} // '', qr/^\d+$/, '... with the rate-limit headers (the room was found)');
($st, undef, $b) = post_prompt($T, $room_b, "idem one $tag", key => $K1);
ok($st == 409 && $b->{error}{code} eq 'CONFLICT', 'same key, same content, another room: 409 CONFLICT');
($st, undef, $b) = api_post("/chatroom/$room/message", token => $T,
                            json => { content => "idem one $tag", name => 'ignored field' },
                            headers => { 'Idempotency-Key' => $K1 });
is($st, 200, 'other fields do not matter: a replay');
is(used_today($T), 1, 'conflicts are not charged');
is(psql("SELECT count(*) FROM messages WHERE user_id = $uid AND role = 'user'"), 1, '... nor stored');

# Another user's identical key is theirs.
my $v = signup_and_login();
my $vroom = new_room($v->{token});
($st, undef, $b) = post_prompt($v->{token}, $vroom, "idem one $tag", key => $K1);
ok($st == 200 && ids_of($b)->[0] != $ids1->[0], 'the same key from another user: a new prompt');

# ---- a failed prompt, a pending prompt --------------------------------------------------------
my $K2 = "key-two-$tag";
($st, undef, $b) = post_prompt($T, $room, "idem fail $tag [[gc:status=400]]", key => $K2);
is($st, 502, 'a failing prompt with a key: 502');
my $ids2 = ids_of($b);
($st, undef, $b) = post_prompt($T, $room, "idem fail $tag [[gc:status=400]]", key => $K2);
is($st, 502, 'its replay: 502 again');
is_deeply(ids_of($b), $ids2, '... the same ids');
ok($b->{data}{reply}{status} eq 'failed' && !defined $b->{data}{reply}{content}, '... reply failed, content null');
is(scalar(grep { ($_->{last_user_text} // '') =~ /idem fail \Q$tag\E/ } gemini_requests()), 1,
   '... not sent to Gemini again');
ok(wait_until(sub { used_today($T) == 1 }, 5), 'the failure was refunded, the replay not charged');

my $K3 = "key-three-$tag";
my $slow = "idem slow $tag [[gc:slow=1500]][[gc:chunks=1]]";
($st, $h, $b) = post_prompt($T, $room, $slow, key => $K3, async => 1);
is($st, 202, 'a slow prompt with a key, async: 202');
my $ids3 = ids_of($b);
($st, $h, $b) = post_prompt($T, $room, $slow, key => $K3, async => 1);
is($st, 202, 'its replay with Prefer: respond-async: 202');
is_deeply(ids_of($b), $ids3, '... the same ids');
is($h->{location}, "/chatroom/$room/messages/$ids3->[1]", '... Location of the same reply');
($st, $h, $b) = post_prompt($T, $room, $slow, key => $K3);
is($st, 200, 'its replay without Prefer waits: 200');
is_deeply(ids_of($b), $ids3, '... the same ids');
is($b->{data}{reply}{status}, 'done', '... the reply now done');
is(used_today($T), 2, 'two prompts charged in all');

# ---- never 429 on a replay ---------------------------------------------------------------------
for my $i (1 .. 3) {
    ($st) = post_prompt($T, $room, "fill $i $tag", async => 1);
    is($st, 202, "filling the day: prompt $i accepted");
}
is(used_today($T), 5, 'the limit is used up');
($st, undef, $b) = post_prompt($T, $room, "one too many $tag", key => "key-four-$tag");
is($st, 429, 'a new key at the limit: 429');
($st, $h, $b) = post_prompt($T, $room, "idem one $tag", key => $K1);
is($st, 200, 'a replay at the limit: 200, never 429');
is_deeply(ids_of($b), $ids1, '... the original ids');
is($h->{'x-ratelimit-remaining'}, 0, '... X-RateLimit-Remaining 0');
($st, undef, $b) = post_prompt($T, $room, "one too many $tag", key => "key-four-$tag");
is($st, 429, 'the rejected key was not remembered: still 429 (not a replay)');

# ---- concurrent duplicates -------------------------------------------------------------------
my $w = signup_and_login();
my $W = $w->{token};
my $wroom = new_room($W, 'race');
my $K5 = "key-race-$tag";
pipe(my $rd, my $wr) or die;
my @kids;
for my $i (1 .. 8) {
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        close $rd;
        my ($s, undef, $bb) = eval { post_prompt($W, $wroom, "race $tag", key => $K5) };
        printf $wr "%s %s %s %s\n", $s // 0, $bb->{data}{user_message}{id} // '-',
            $bb->{data}{reply}{id} // '-', ($bb->{data}{reply}{status} // '-');
        close $wr;
        POSIX::_exit(0);
    }
    push @kids, $pid;
}
close $wr;
my @res = map { [split ' '] } <$rd>;
waitpid($_, 0) for @kids;
is(scalar @res, 8, 'eight concurrent duplicates answered');
ok(!(grep { $_->[0] != 200 && $_->[0] != 202 } @res), 'each 200 or 202 (' . join(',', map { $_->[0] } @res) . ')');
my %um = map { $_->[1] => 1 } @res;
my %rp = map { $_->[2] => 1 } @res;
ok(keys(%um) == 1 && keys(%rp) == 1 && !$um{'-'}, 'all carry the same user_message and reply ids');
is(psql("SELECT count(*) FROM messages WHERE user_id = $w->{user}{id} AND idempotency_key = '$K5'"), 1,
   'exactly one prompt stored with the key (psql)');
is(psql("SELECT count(*) FROM messages WHERE chatroom_id = $wroom"), 2, 'the room holds one prompt and one reply');
is(used_today($W), 1, 'charged once');
my ($rid) = keys %rp;
is(wait_reply_final($W, $wroom, $rid)->{status}, 'done', 'the one reply is done');

# ---- the key expires after 24 h -------------------------------------------------------------------
clock_shift(86400 - 120);
($st, undef, $b) = post_prompt($T, $room, "idem one $tag", key => $K1);
ok($st == 200 && ids_of($b)->[0] == $ids1->[0], 'just under 24 h later: still the original');
clock_shift(240);
$T = login_again($u->{mobile});
($st, undef, $b, $raw) = post_prompt($T, $room, "idem one $tag", key => $K1);
is($st, 200, 'over 24 h later: the same key and content make a new prompt (200)') or diag($raw);
my $ids_new = ids_of($b);
ok($ids_new->[0] != $ids1->[0] && $ids_new->[1] != $ids1->[1], '... with new ids');
is($b->{data}{reply}{content}, "Echo: idem one $tag", '... answered again');
is(used_today($T), 1, '... and charged (on the new day)');
($st, undef, $b) = post_prompt($T, $room, "idem one $tag", key => $K1);
ok($st == 200 && ids_of($b)->[0] == $ids_new->[0], 'the key now replays the new prompt');
($st, undef, $b) = post_prompt($T, $room, "other content $tag", key => $K1);
is($st, 409, '... and conflicts with other content');

# ---- key syntax -----------------------------------------------------------------------------------
for my $case ([ 'k' x 256, '256 characters' ], [ 'a b', 'a space' ]) {
    ($st, undef, $b) = post_prompt($T, $room, "syntax $tag", key => $case->[0]);
    ok($st == 400 && $b->{error}{code} eq 'VALIDATION_ERROR' && ($b->{error}{field} // '') eq 'Idempotency-Key',
       "key with $case->[1]: 400 VALIDATION_ERROR field Idempotency-Key") or diag($st);
}
# HTTP::Tiny refuses to send a non-ASCII header value: by hand.
my $body = json_encode({ content => "syntax $tag" });
my ($rst, $rraw) = raw_request("POST /chatroom/$room/message HTTP/1.1\r\nHost: localhost\r\n"
    . "Authorization: Bearer $T\r\nContent-Type: application/json\r\n"
    . "Idempotency-Key: caf\xc3\xa9\r\nContent-Length: " . length($body) . "\r\nConnection: close\r\n\r\n$body");
ok($rst == 400 && $rraw =~ /"field":\s*"Idempotency-Key"/, 'key with non-ASCII bytes: 400 field Idempotency-Key')
    or diag($rraw);
($st) = post_prompt($T, $room, "syntax $tag", key => 'k' x 255, async => 1);
is($st, 202, 'a 255-character key: accepted');
