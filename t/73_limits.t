# The daily prompt limit (API.md, "Rate limit"): Basic users get 5 accepted
# prompts per UTC day, checked and counted in one atomic step shared by both
# children (12 concurrent prompts: exactly 5 accepted); the rest are 429
# RATE_LIMITED with Retry-After = seconds to the next UTC midnight and are
# not counted; X-RateLimit-Limit/-Remaining/-Reset on every answer once the
# room is found; the count starts over at UTC midnight (clock shift) and
# survives Redis losing its data (rebuilt from PostgreSQL).
use strict;
use warnings FATAL => 'all';

use Apache::Test qw(-withtestmore);
use POSIX ();
use GC::Test;

plan tests => 43;

clock_reset();
gemini_control();
END { clock_reset() }

my $tag = "t73-$$";

sub server_now { time() + clock_offset() }
sub next_midnight { my $t = shift // server_now(); return $t - $t % 86400 + 86400 }

sub used_today {
    my $t = shift;
    my ($st, undef, $b) = api_get('/subscription/status', token => $t);
    return $st == 200 ? $b->{data}{used_today} : "status $st";
}

# Runs CODE(i) for i in 1..N in N forked children at once; returns their
# results (each a list of fields), in no particular order.
sub concurrently {
    my ($n, $code) = @_;
    pipe(my $rd, my $wr) or die "pipe: $!";
    my @kids;
    for my $i (1 .. $n) {
        my $pid = fork // die "fork: $!";
        if (!$pid) {
            close $rd;
            my @r = eval { $code->($i) };
            @r = ('died', $@ =~ s/\s+/ /gr) unless @r;
            print $wr join("\t", map { $_ // '' } @r), "\n";
            close $wr;
            POSIX::_exit(0);
        }
        push @kids, $pid;
    }
    close $wr;
    my @out = map { chomp; [split /\t/, $_, -1] } <$rd>;
    close $rd;
    waitpid($_, 0) for @kids;
    return @out;
}

# ---- 12 at once: exactly 5 accepted --------------------------------------------------------
my $u = signup_and_login();
my $T = $u->{token};
my $room = new_room($T, 'burst');
my @res = concurrently(12, sub {
    my $i = shift;
    my ($st, $h, $b) = post_prompt($T, $room, "burst $i $tag", async => 1);
    return ($st, $b->{error} ? $b->{error}{code} : '', $h->{'retry-after'},
            $h->{'x-ratelimit-limit'}, $h->{'x-ratelimit-remaining'}, $h->{'x-ratelimit-reset'},
            server_now());
});
my @ok = grep { $_->[0] == 202 } @res;
my @limited = grep { $_->[0] == 429 } @res;
is(scalar @res, 12, 'twelve answers');
is(scalar @ok, 5, 'exactly 5 of 12 concurrent prompts accepted (202)');
is(scalar @limited, 7, 'the other 7: 429');
ok(!(grep { $_->[1] ne 'RATE_LIMITED' } @limited), 'every 429 is RATE_LIMITED');
my $mid = next_midnight();
ok(!(grep { !defined $_->[2] || $_->[2] !~ /^\d+$/ || abs($_->[2] - ($mid - $_->[6])) > 2 } @limited),
   'every 429 has Retry-After = seconds to the next UTC midnight')
    or diag(join ', ', map { $_->[2] // 'none' } @limited);
ok(!(grep { ($_->[3] // '') ne '5' } @res), 'X-RateLimit-Limit 5 on all twelve');
ok(!(grep { ($_->[5] // '') ne $mid } @res), "X-RateLimit-Reset = next UTC midnight ($mid) on all twelve");
ok(!(grep { ($_->[4] // '') ne '0' } @limited), 'X-RateLimit-Remaining 0 on the 429s');
is_deeply([sort map { $_->[4] } @ok], [0, 1, 2, 3, 4], 'the accepted ones counted down 4, 3, 2, 1, 0');
is(used_today($T), 5, 'rejected prompts are not counted: used_today 5');
is(psql("SELECT count(*) FROM messages WHERE chatroom_id = $room AND role = 'user'"), 5,
   'only the 5 accepted prompts are stored');

# A later prompt, one more at once.
my ($st, $h, $b, $raw) = post_prompt($T, $room, "one more $tag");
is($st, 429, 'the sixth sequential prompt: 429');
is($b->{error}{code}, 'RATE_LIMITED', '... RATE_LIMITED');
ok(!$b->{success} && $b->{message}, '... error envelope with a message');
like($h->{'retry-after'} // '', qr/^\d+$/, '... Retry-After an integer');
my $now = server_now();
ok(abs($h->{'retry-after'} - (next_midnight($now) - $now)) <= 2, '... the seconds to midnight');
like($h->{'x-ratelimit-reset'} // '', qr/^\d+$/, 'X-RateLimit-Reset an integer (Unix time)');
is($h->{'x-ratelimit-reset'} % 86400, 0, '... at a UTC midnight');
is($h->{'x-ratelimit-reset'}, next_midnight($now), '... the next one');
my $other = new_room($T, 'other room');
($st) = post_prompt($T, $other, "another room $tag", async => 1);
is($st, 429, 'the limit is per user, not per room');

# Headers on other answers after the room is found; none before.
($st, $h) = api_get('/chatroom', token => $T);
ok(!defined $h->{'x-ratelimit-limit'}, 'no rate-limit headers on other routes');
($st, $h) = post_prompt($T, 999999999, "no such room $tag");
ok($st == 404 && !defined $h->{'x-ratelimit-limit'}, 'unknown room: 404 without rate-limit headers');
my $v = signup_and_login();
my $vroom = new_room($v->{token});
($st, $h) = post_prompt($v->{token}, $vroom, "headers $tag");
ok($st == 200 && $h->{'x-ratelimit-limit'} eq '5' && $h->{'x-ratelimit-remaining'} eq '4'
   && $h->{'x-ratelimit-reset'} eq next_midnight(), '200: Limit 5, Remaining 4, Reset midnight');
($st, $h) = post_prompt($v->{token}, $vroom, "headers async $tag", async => 1);
ok($st == 202 && $h->{'x-ratelimit-remaining'} eq '3', '202: Remaining 3');
($st, $h) = post_prompt($v->{token}, $vroom, "headers failed $tag [[gc:status=400]]");
ok($st == 502 && $h->{'x-ratelimit-remaining'} =~ /^\d+$/, '502: rate-limit headers');
ok(wait_until(sub { used_today($v->{token}) == 2 }, 5), 'the failed prompt was given back: used_today 2');

# ---- the next UTC midnight starts a new day -------------------------------------------------
my $T_day1 = $T;    # issued before the shift: still valid once the clock is back
my $old_reset = next_midnight();
clock_shift($old_reset - server_now() + 5);
$T = login_again($u->{mobile});
($st, $h, $b) = post_prompt($T, $room, "new day $tag", async => 1);
is($st, 202, 'after UTC midnight (clock shifted): accepted again');
is($h->{'x-ratelimit-remaining'}, 4, '... Remaining 4: a fresh count');
is($h->{'x-ratelimit-reset'}, $old_reset + 86400, '... Reset the following midnight');
is(used_today($T), 1, 'used_today 1 on the new day');
@res = concurrently(6, sub {
    my ($s) = post_prompt($T, $room, "new day burst $_[0] $tag", async => 1);
    return ($s);
});
is(scalar(grep { $_->[0] == 202 } @res), 4, 'four more accepted on the new day');
is(scalar(grep { $_->[0] == 429 } @res), 2, 'then 429 again');
clock_reset();
($st) = post_prompt($T_day1, $room, "back to yesterday $tag", async => 1);
is($st, 429, "back on the first day (clock reset): that day's count still holds");

# ---- the count survives Redis losing its data ---------------------------------------------
my $w = signup_and_login();
my $W = $w->{token};
my $wroom = new_room($W, 'flush');
my @replies;
for my $i (1 .. 3) {
    ($st, undef, $b) = post_prompt($W, $wroom, "before flush $i $tag");
    is($st, 200, "prompt $i before the flush: 200");
    push @replies, $b->{data}{reply}{id};
}
is(used_today($W), 3, 'used_today 3');
is(scalar(redis_cli('FLUSHALL')), 'OK', 'Redis FLUSHALL');
is(used_today($W), 3, 'after FLUSHALL: used_today still 3 (rebuilt from PostgreSQL)');
my @after;
for my $i (1 .. 3) {
    ($st, $h, $b) = post_prompt($W, $wroom, "after flush $i $tag", async => 1);
    push @after, [$st, $h->{'x-ratelimit-remaining'}, $b->{data}{reply}{id}];
}
is_deeply([map { $_->[0] } @after], [202, 202, 429], 'after FLUSHALL: only 2 more accepted, then 429');
is_deeply([map { $_->[1] } @after], [1, 0, 0], '... Remaining 1, 0, 0');
# The queue went with the flush too: the worker recreates its consumer
# group, and jobs queued before that are still read (no clock shift: not
# left to the sweeper).
for my $a (@after[0, 1]) {
    is(wait_reply_final($W, $wroom, $a->[2], 10)->{status}, 'done', "accepted after the flush: reply $a->[2] done");
}
