# Messages (API.md, "Chatrooms and messages"): GET /chatroom/:id/messages
# pages back from the newest (default 50, limit 1..100, before = an id,
# oldest first within the page, meta {count, next_before}); bad limit or
# before is 400 with field; GET /chatroom/:id/messages/:mid gives one
# message, and another user's message is 404.
use strict;
use warnings FATAL => 'all';

use Apache::Test qw(-withtestmore);
use GC::Test;

plan tests => 53;

my $u = signup_and_login();
my $T = $u->{token};
my $uid = $u->{user}{id};
my $RFC3339 = qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;

my $room = new_room($T, 'paging');
# 120 stored messages (alternating roles), created straight in PostgreSQL:
# the daily prompt limit would take 24 days to make them through the API.
psql("INSERT INTO messages (chatroom_id, user_id, role, content, status, created_at, completed_at) "
     . "SELECT $room, $uid, CASE WHEN g % 2 = 1 THEN 'user' ELSE 'model' END, 'msg ' || g, 'done', "
     . "now(), now() FROM generate_series(1, 120) g ORDER BY g");
psql("UPDATE chatrooms SET message_count = 120 WHERE id = $room");
my @ids = psql("SELECT id FROM messages WHERE chatroom_id = $room ORDER BY id");
is(scalar @ids, 120, '120 messages stored');

sub page {
    my $q = shift;
    my ($st, undef, $b) = api_get("/chatroom/$room/messages$q", token => $T);
    return ($st, $b, [map { $_->{id} } @{ ($b && ref $b->{data} eq 'ARRAY') ? $b->{data} : [] }]);
}

# ---- defaults ----------------------------------------------------------------------
my ($st, $b, $got) = page('');
is($st, 200, 'no parameters: 200');
is_deeply($got, [@ids[70 .. 119]], 'default: the newest 50, oldest first');
is($b->{meta}{count}, 50, 'meta.count 50');
is($b->{meta}{next_before}, $ids[70], 'next_before = the smallest id in the page');
is($b->{data}[0]{content}, 'msg 71', 'content of the first');
($st, $b, $got) = page('?limit=&before=');
is_deeply($got, [@ids[70 .. 119]], 'empty values count as absent');

# ---- limit -------------------------------------------------------------------------
($st, $b, $got) = page('?limit=1');
is_deeply($got, [$ids[119]], 'limit=1: the newest one');
is($b->{meta}{next_before}, $ids[119], 'limit=1: next_before its id');
($st, $b, $got) = page('?limit=100');
is_deeply($got, [@ids[20 .. 119]], 'limit=100: the newest 100');
is($b->{meta}{count}, 100, 'limit=100: meta.count 100');
for my $bad ('0', '101', 'abc', '-1', '1.5', '01x', '99999999999999999999999') {
    my ($s, undef, $bb) = api_get("/chatroom/$room/messages?limit=$bad", token => $T);
    ok($s == 400 && $bb->{error}{code} eq 'VALIDATION_ERROR' && ($bb->{error}{field} // '') eq 'limit',
       "limit=$bad: 400 VALIDATION_ERROR field limit") or diag($s);
}

# ---- before ------------------------------------------------------------------------
($st, $b, $got) = page("?before=$ids[10]");
is_deeply($got, [@ids[0 .. 9]], 'before the 11th: the first 10');
ok(exists $b->{meta}{next_before} && !defined $b->{meta}{next_before},
   'nothing older remains: next_before null');
is($b->{meta}{count}, 10, 'meta.count 10');
($st, $b, $got) = page("?before=$ids[0]");
is_deeply($got, [], 'before the first: an empty page');
ok(!defined $b->{meta}{next_before}, 'empty page: next_before null');
($st, $b, $got) = page("?before=$ids[60]&limit=10");
is_deeply($got, [@ids[50 .. 59]], 'before + limit: the 10 right below');
is($b->{meta}{next_before}, $ids[50], '... next_before the smallest');
($st, $b, $got) = page("?before=9223372036854775807&limit=5");
is_deeply($got, [@ids[115 .. 119]], 'before the largest id: the newest');
for my $bad ('abc', '0', '-5', '01', '9223372036854775808', '1.0') {
    my ($s, undef, $bb) = api_get("/chatroom/$room/messages?before=$bad", token => $T);
    ok($s == 400 && $bb->{error}{code} eq 'VALIDATION_ERROR' && ($bb->{error}{field} // '') eq 'before',
       "before=$bad: 400 VALIDATION_ERROR field before") or diag($s);
}

# Walking next_before visits every message once, and exactly when
# messages remain there is a next page.
my (@all, $cursor, $pages);
while (1) {
    ($st, $b, $got) = page('?limit=33' . (defined $cursor ? "&before=$cursor" : ''));
    last unless $st == 200 && @$got;
    unshift @all, @$got;
    $pages++;
    $cursor = $b->{meta}{next_before};
    last unless defined $cursor;
    last if $pages > 10;
}
is($pages, 4, 'limit 33 over 120 messages: 4 pages');
is_deeply(\@all, \@ids, 'the pages add up to every message, in order, once');

# An exact multiple: the last page has no next_before (nothing older remains).
($st, $b, $got) = page("?before=$ids[20]&limit=20");
is_deeply($got, [@ids[0 .. 19]], 'a page holding exactly the oldest 20');
ok(!defined $b->{meta}{next_before}, '... next_before null (none older)');

# ---- one message ---------------------------------------------------------------------
($st, undef, $b) = api_get("/chatroom/$room/messages/$ids[5]", token => $T);
is($st, 200, 'GET one message: 200');
is_deeply([sort keys %{ $b->{data} }],
          [qw(chatroom_id completed_at content created_at error id role status)], 'message fields');
is($b->{data}{id}, $ids[5], 'its id');
is($b->{data}{chatroom_id}, $room, 'its chatroom_id');
is($b->{data}{role}, 'model', 'its role');
is($b->{data}{content}, 'msg 6', 'its content');
is($b->{data}{status}, 'done', 'its status');
ok(exists $b->{data}{error} && !defined $b->{data}{error}, 'error null');
like($b->{data}{created_at}, $RFC3339, 'created_at RFC 3339');
($st) = api_head("/chatroom/$room/messages/$ids[5]", token => $T);
is($st, 200, 'HEAD one message: 200');

# Through the wrong room of the same user, or a message that does not exist.
my $other_room = new_room($T, 'other');
($st, undef, $b) = api_get("/chatroom/$other_room/messages/$ids[5]", token => $T);
ok($st == 404 && $b->{error}{code} eq 'NOT_FOUND', 'a message through another room of mine: 404');
($st) = api_get("/chatroom/$room/messages/" . ($ids[-1] + 100000), token => $T);
is($st, 404, 'an unknown message id: 404');
($st, undef, $b) = api_get("/chatroom/$other_room/messages", token => $T);
ok($st == 200 && @{ $b->{data} } == 0 && !defined $b->{meta}{next_before},
   'an empty room: empty page, next_before null');

# ---- another user ------------------------------------------------------------------------
my $v = signup_and_login();
($st, undef, $b) = api_get("/chatroom/$room/messages/$ids[5]", token => $v->{token});
ok($st == 404 && $b->{error}{code} eq 'NOT_FOUND', "another user's message: 404 NOT_FOUND");
($st, undef, $b) = api_get("/chatroom/$room/messages", token => $v->{token});
ok($st == 404 && $b->{error}{code} eq 'NOT_FOUND', "another user's messages: 404 NOT_FOUND");
my $vroom = new_room($v->{token}, 'theirs');
($st) = api_get("/chatroom/$vroom/messages/$ids[5]", token => $v->{token});
is($st, 404, "my message through another user's own room: 404");
($st) = api_get("/chatroom/$room/messages");
is($st, 401, 'no token: 401');
