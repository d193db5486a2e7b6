# Chatrooms (API.md, "Chatrooms and messages"): create with a default or a
# trimmed name (title alias), the list newest activity first with meta.count
# and its per-user Redis cache (MISS, HIT, dropped by every change, TTL),
# one room with its last 50 messages oldest first, rename, delete (messages
# go too), message_count, and 404 for another user's room, unknown ids and
# ids that are not plain positive decimals.
use strict;
use warnings FATAL => 'all';

use Apache::Test qw(-withtestmore);
use Apache::TestRequest ();
use GC::Test;

plan tests => 108;

clock_reset();
END { clock_reset(); Apache::TestRequest::module('default') }

my $u = signup_and_login();
my $T = $u->{token};
my $uid = $u->{user}{id};
my $RFC3339 = qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;

# ---- create -------------------------------------------------------------------------
my ($st, $h, $b, $raw) = api_post('/chatroom', token => $T);
is($st, 201, 'create without a body: 201');
my $r0 = $b->{data};
is($r0->{name}, 'New chat', 'default name "New chat"');
is_deeply([sort keys %$r0],
          [qw(created_at id last_message_at message_count name updated_at)],
          'chatroom fields');
like($r0->{created_at} // '', $RFC3339, 'created_at RFC 3339 UTC');
is($r0->{updated_at}, $r0->{created_at}, 'updated_at = created_at at first');
ok(exists $r0->{last_message_at} && !defined $r0->{last_message_at}, 'last_message_at null');
is($r0->{message_count}, 0, 'message_count 0');
ok($r0->{id} =~ /^\d+$/ && $r0->{id} > 0, 'id a positive integer');

($st, undef, $b) = api_post('/chatroom', token => $T, json => {});
is($st, 201, 'create with {}: 201');
is($b->{data}{name}, 'New chat', '{}: default name');

($st, undef, $b) = api_post('/chatroom', token => $T, json => { name => "  \t Trip plans \x{3000}" });
is($st, 201, 'create with a padded name: 201');
is($b->{data}{name}, 'Trip plans', 'name trimmed (ASCII and Unicode spaces)');

($st, undef, $b) = api_post('/chatroom', token => $T, json => { title => 'Via title' });
is($b->{data}{name}, 'Via title', 'title is an alias of name');
($st, undef, $b) = api_post('/chatroom', token => $T, json => { title => 'T', name => 'N' });
is($b->{data}{name}, 'N', 'name wins over title');
($st, undef, $b) = api_post('/chatroom', token => $T, json => { name => "\x{e9}" x 100 });
is($st, 201, 'name of 100 code points (200 bytes): 201');
is(length($b->{data}{name} // ''), 100, '... stored whole');

for my $case ([ 'x' x 101, '101 code points' ], [ "   ", 'blank after trimming' ],
              [ '', 'empty' ], [ 42, 'a number' ]) {
    ($st, undef, $b) = api_post('/chatroom', token => $T, json => { name => $case->[0] });
    ok($st == 400 && $b->{error}{code} eq 'VALIDATION_ERROR' && ($b->{error}{field} // '') eq 'name',
       "name $case->[1]: 400 VALIDATION_ERROR field name") or diag("$st");
}
($st, undef, $b) = api_post('/chatroom', token => $T, json => { name => undef });
is($b->{data}{name}, 'New chat', 'name null counts as absent');
($st) = api_post('/chatroom', json => {});
is($st, 401, 'create without a token: 401');

# ---- list: order, count, cache --------------------------------------------------------
my $v = signup_and_login();
my $V = $v->{token};
my $vid = $v->{user}{id};
my $cache_key = "gemclone:rooms:$vid";

($st, $h, $b) = api_get('/chatroom', token => $V);
is($st, 200, 'empty list: 200');
is_deeply($b->{data}, [], 'empty list: data []');
is($b->{meta}{count}, 0, 'empty list: meta.count 0');

my $a_id = new_room($V, 'A');
clock_shift(10);
my $b_id = new_room($V, 'B');
clock_shift(10);
my $c_id = new_room($V, 'C');

($st, $h, $b) = api_get('/chatroom', token => $V);
is($h->{'x-cache'}, 'MISS', 'first list: X-Cache MISS');
is_deeply([map { $_->{id} } @{ $b->{data} }], [$c_id, $b_id, $a_id], 'newest created first');
is($b->{meta}{count}, 3, 'meta.count 3');
my $first = $b->{data};
($st, $h, $b) = api_get('/chatroom', token => $V);
is($h->{'x-cache'}, 'HIT', 'second list: X-Cache HIT');
is_deeply($b->{data}, $first, 'the cached list is the same list');
is($b->{meta}{count}, 3, 'HIT: meta.count 3');
my $ttl = redis_cli('TTL', $cache_key);
ok($ttl > 280 && $ttl <= 300, "cache key expires with the configured TTL (300 s): TTL $ttl");
($st, $h) = api_get('/chatroom', token => $T);
is($h->{'x-cache'}, 'MISS', "another user's list is not this user's cache");

# A message moves a room to the top (last_message_at beats created_at).
clock_shift(10);
($st, undef, $b) = post_prompt($V, $a_id, 'hello from A');
is($st, 200, 'prompt in the oldest room: 200');
($st, $h, $b) = api_get('/chatroom', token => $V);
is($h->{'x-cache'}, 'MISS', 'a new message drops the cache');
is_deeply([map { $_->{id} } @{ $b->{data} }], [$a_id, $c_id, $b_id],
          'the room with the newest message comes first');
my ($ra) = grep { $_->{id} == $a_id } @{ $b->{data} };
like($ra->{last_message_at} // '', $RFC3339, 'last_message_at set');
is($ra->{message_count}, 2, 'message_count 2 (prompt + reply)');

# Ties at the stored precision: by id, descending.
psql("UPDATE chatrooms SET created_at = '2026-01-01T00:00:00Z', last_message_at = NULL "
     . "WHERE id IN ($b_id, $c_id)");
psql("UPDATE chatrooms SET last_message_at = '2025-01-01T00:00:00Z' WHERE id = $a_id");
redis_cli('DEL', $cache_key);
($st, $h, $b) = api_get('/chatroom', token => $V);
is_deeply([map { $_->{id} } @{ $b->{data} }], [$c_id, $b_id, $a_id],
          'equal created_at: higher id first; an old last_message_at sorts by itself');
psql("UPDATE chatrooms SET last_message_at = '2026-01-01T00:00:00Z' WHERE id = $a_id");
redis_cli('DEL', $cache_key);
($st, $h, $b) = api_get('/chatroom', token => $V);
is_deeply([map { $_->{id} } @{ $b->{data} }], [$c_id, $b_id, $a_id],
          'last_message_at equal to the others\' created_at: ties by id desc');
psql("UPDATE chatrooms SET last_message_at = '2026-01-01T00:00:01Z' WHERE id = $a_id");
redis_cli('DEL', $cache_key);
(undef, undef, $b) = api_get('/chatroom', token => $V);
is($b->{data}[0]{id}, $a_id, 'one second newer last_message_at: first');

# Every change drops the cache.
api_get('/chatroom', token => $V);
(undef, $h) = api_get('/chatroom', token => $V);
is($h->{'x-cache'}, 'HIT', 'warm cache');
my $d_id = new_room($V, 'D');
(undef, $h, $b) = api_get('/chatroom', token => $V);
ok($h->{'x-cache'} eq 'MISS' && (grep { $_->{id} == $d_id } @{ $b->{data} }),
   'create drops the cache (new room listed)');
(undef, $h) = api_get('/chatroom', token => $V);
is($h->{'x-cache'}, 'HIT', 'warm again');
($st) = api_patch("/chatroom/$b_id", token => $V, json => { name => 'B2' });
is($st, 200, 'rename: 200');
(undef, $h, $b) = api_get('/chatroom', token => $V);
my ($rb) = grep { $_->{id} == $b_id } @{ $b->{data} };
ok($h->{'x-cache'} eq 'MISS' && $rb->{name} eq 'B2', 'rename drops the cache (new name listed)');
(undef, $h) = api_get('/chatroom', token => $V);
is($h->{'x-cache'}, 'HIT', 'warm again');
($st) = api_delete("/chatroom/$d_id", token => $V);
is($st, 200, 'delete: 200');
(undef, $h, $b) = api_get('/chatroom', token => $V);
ok($h->{'x-cache'} eq 'MISS' && !(grep { $_->{id} == $d_id } @{ $b->{data} }),
   'delete drops the cache (room gone from the list)');
is($b->{meta}{count}, 3, 'meta.count back to 3');

# The cache expires after its TTL (a virtual host with a 1 s TTL: Redis TTLs
# run on real time, not on the test clock).
Apache::TestRequest::module('short_cache');
redis_cli('DEL', $cache_key);
(undef, $h) = api_get('/chatroom', token => $V);
is($h->{'x-cache'}, 'MISS', 'TTL 1 s: MISS after the key is gone');
(undef, $h) = api_get('/chatroom', token => $V);
is($h->{'x-cache'}, 'HIT', 'TTL 1 s: HIT at once');
my $t2 = redis_cli('TTL', $cache_key);
ok($t2 >= 0 && $t2 <= 1, "TTL 1 s: key TTL $t2");
ok(wait_until(sub { my (undef, $hh) = api_get('/chatroom', token => $V); $hh->{'x-cache'} eq 'MISS' }, 4),
   'TTL 1 s: MISS again once it ran out');
Apache::TestRequest::module('default');

# ---- get one room with its messages ---------------------------------------------------
($st, undef, $b) = api_get("/chatroom/$a_id", token => $V);
is($st, 200, 'GET /chatroom/:id: 200');
is($b->{data}{id}, $a_id, 'the room');
is($b->{data}{name}, 'A', 'its name');
is(ref $b->{data}{messages}, 'ARRAY', 'messages: an array');
is(scalar @{ $b->{data}{messages} }, 2, 'two messages');
is_deeply([map { $_->{role} } @{ $b->{data}{messages} }], [qw(user model)], 'oldest first: user, model');
is($b->{data}{messages}[1]{content}, 'Echo: hello from A', 'the reply');
($st, undef, $b) = api_head("/chatroom/$a_id", token => $V);
is($st, 200, 'HEAD /chatroom/:id: 200');

# 60 stored messages: the room shows the last 50, oldest first.
my $e_id = new_room($V, 'E');
psql("INSERT INTO messages (chatroom_id, user_id, role, content, status, created_at, completed_at) "
     . "SELECT $e_id, $vid, CASE WHEN g % 2 = 1 THEN 'user' ELSE 'model' END, 'm' || g, 'done', "
     . "now(), now() FROM generate_series(1, 60) g ORDER BY g");
psql("UPDATE chatrooms SET message_count = 60 WHERE id = $e_id");
my @ids = psql("SELECT id FROM messages WHERE chatroom_id = $e_id ORDER BY id");
($st, undef, $b) = api_get("/chatroom/$e_id", token => $V);
my @got = map { $_->{id} } @{ $b->{data}{messages} };
is(scalar @got, 50, '60 messages: 50 shown');
is_deeply(\@got, [@ids[10 .. 59]], 'the newest 50, oldest first');
is($b->{data}{messages}[0]{content}, 'm11', 'first shown: the 11th');
is($b->{data}{message_count}, 60, 'message_count 60');

# ---- message_count: both roles, any status ----------------------------------------------
my $f_id = new_room($V, 'F');
($st) = post_prompt($V, $f_id, 'count me');
is($st, 200, 'a done prompt');
($st) = post_prompt($V, $f_id, 'fail me [[gc:status=400]]');
is($st, 502, 'a failed prompt: 502');
($st) = post_prompt($V, $f_id, 'later [[gc:slow=1500]][[gc:chunks=1]]', async => 1);
is($st, 202, 'a pending prompt: 202');
($st, undef, $b) = api_get("/chatroom/$f_id", token => $V);
is($b->{data}{message_count}, 6, 'message_count 6: user and model, done, failed and pending');
is_deeply([map { "$_->{role}:$_->{status}" } @{ $b->{data}{messages} }],
          [qw(user:done model:done user:done model:failed user:done model:pending)],
          'messages in order with their statuses');
(undef, undef, $b) = api_get('/chatroom', token => $V);
my ($rf) = grep { $_->{id} == $f_id } @{ $b->{data} };
is($rf->{message_count}, 6, 'the list shows the same count');

# ---- rename --------------------------------------------------------------------------
clock_shift(5);
($st, undef, $b) = api_get("/chatroom/$c_id", token => $V);
my $before = $b->{data};
($st, undef, $b) = api_patch("/chatroom/$c_id", token => $V, json => { name => '  Renamed  ' });
is($st, 200, 'PATCH: 200');
is($b->{data}{name}, 'Renamed', 'new name, trimmed');
isnt($b->{data}{updated_at}, $before->{updated_at}, 'updated_at moved');
is($b->{data}{created_at}, $before->{created_at}, 'created_at kept');
($st, undef, $b) = api_patch("/chatroom/$c_id", token => $V, json => { title => 'Titled' });
is($b->{data}{name}, 'Titled', 'PATCH with the title alias');
($st, undef, $b) = api_patch("/chatroom/$c_id", token => $V, json => {});
ok($st == 400 && ($b->{error}{field} // '') eq 'name', 'PATCH without name: 400 field name');
($st, undef, $b) = api_patch("/chatroom/$c_id", token => $V, json => { name => 'y' x 101 });
ok($st == 400 && ($b->{error}{field} // '') eq 'name', 'PATCH with 101 code points: 400 field name');
(undef, undef, $b) = api_get("/chatroom/$c_id", token => $V);
is($b->{data}{name}, 'Titled', 'a refused rename changes nothing');

# ---- delete --------------------------------------------------------------------------
my $n_msgs = psql("SELECT count(*) FROM messages WHERE chatroom_id = $e_id");
is($n_msgs, 60, 'room E holds 60 messages');
($st, undef, $b, $raw) = api_delete("/chatroom/$e_id", token => $V);
is($st, 200, 'DELETE: 200');
ok($b->{success} && exists $b->{data} && !defined $b->{data}, 'DELETE: data null');
is(psql("SELECT count(*) FROM messages WHERE chatroom_id = $e_id"), 0, 'its messages are gone');
is(psql("SELECT count(*) FROM chatrooms WHERE id = $e_id"), 0, 'the room is gone');
($st) = api_get("/chatroom/$e_id", token => $V);
is($st, 404, 'GET after delete: 404');
($st) = api_delete("/chatroom/$e_id", token => $V);
is($st, 404, 'DELETE again: 404');
($st) = api_get("/chatroom/$e_id/messages/$ids[0]", token => $V);
is($st, 404, 'one of its messages: 404');

# ---- another user's room: 404 everywhere ------------------------------------------------
my $mid = psql("SELECT id FROM messages WHERE chatroom_id = $a_id ORDER BY id LIMIT 1");
my @routes = (
    [ GET    => "/chatroom/$a_id" ],
    [ HEAD   => "/chatroom/$a_id" ],
    [ PATCH  => "/chatroom/$a_id", { name => 'mine now' } ],
    [ DELETE => "/chatroom/$a_id" ],
    [ GET    => "/chatroom/$a_id/messages" ],
    [ POST   => "/chatroom/$a_id/message", { content => 'hi' } ],
    [ GET    => "/chatroom/$a_id/messages/$mid" ],
);
for my $r (@routes) {
    my ($m, $p, $j) = @$r;
    ($st, $h, $b) = api_request($m, $p, token => $T, defined $j ? (json => $j) : ());
    ok($st == 404 && ($m eq 'HEAD' || $b->{error}{code} eq 'NOT_FOUND'),
       "another user's room: $m $p -> 404 NOT_FOUND") or diag($st);
    ok(!defined $h->{'x-ratelimit-limit'}, "... $m: no rate-limit headers before the room is found")
        if $m eq 'POST';
}
(undef, undef, $b) = api_get("/chatroom/$a_id", token => $V);
is($b->{data}{name}, 'A', "the owner's room is untouched");
is($b->{data}{message_count}, 2, '... and its messages');

# ---- ids that are not plain positive decimals, unknown ids ------------------------------
for my $bad ('abc', '01', '-1', '0', '9223372036854775808', '99999999999999999999', '1e3', '+1') {
    my @r = (
        [ GET => "/chatroom/$bad" ], [ PATCH => "/chatroom/$bad", { name => 'x' } ],
        [ DELETE => "/chatroom/$bad" ], [ GET => "/chatroom/$bad/messages" ],
        [ POST => "/chatroom/$bad/message", { content => 'x' } ],
        [ GET => "/chatroom/$a_id/messages/$bad" ],
    );
    my @bad;
    for my $r (@r) {
        my ($m, $p, $j) = @$r;
        ($st, undef, $b) = api_request($m, $p, token => $V, defined $j ? (json => $j) : ());
        push @bad, "$m $p: $st" unless $st == 404 && $b->{error}{code} eq 'NOT_FOUND';
    }
    ok(!@bad, "id '$bad': 404 NOT_FOUND on every route") or diag(join ', ', @bad);
}
($st, undef, $b) = api_get('/chatroom/9223372036854775807', token => $V);
is($st, 404, 'largest id (2^63-1), no such room: 404');
($st) = api_get('/chatroom/', token => $V);
is($st, 200, 'trailing slash: the list');
