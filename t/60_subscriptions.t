# Pro subscriptions (API.md, Subscriptions) against tools/stripe-standin:
# POST /subscribe/pro sends Stripe the Checkout Session the contract
# describes (with an Idempotency-Key new per call and kept for its retries),
# a Stripe failure is 502 UPSTREAM_ERROR, GET /subscription/status for a
# user who never subscribed, the whole upgrade through an offline checkout,
# cancellation, and the daily limits of Basic and Pro.
use strict;
use warnings FATAL => 'all';

use Apache::Test qw(-withtestmore);
use Apache::TestRequest ();
use JSON::PP ();
use POSIX ();
use GC::Test;

plan tests => 124;

# However this file ends, the next one finds Stripe healthy and the default host.
END { local $?; eval { stripe_control() }; Apache::TestRequest::module('default') }

my $PRICE = 'price_test_pro';
my $STRIPE_BASE = 'http://127.0.0.1:' . $ENV{GC_TEST_STRIPE_PORT};
my @STATUS_KEYS = sort qw(tier status current_period_end cancel_at_period_end daily_limit
                          used_today remaining_today);

# status(TOKEN, [PATH]) -> (http status, data, raw)
sub status {
    my ($token, $path) = @_;
    my ($st, undef, $b, $raw) = api_get($path // '/subscription/status', token => $token);
    return ($st, $b && $b->{data}, $raw);
}

sub subscribe {
    my ($token, %opt) = @_;
    return api_post($opt{path} // '/subscribe/pro', token => $token, json => {});
}

# The Checkout Session calls the stand-in received since the last clear.
sub checkout_calls { grep { $_->{path} eq '/v1/checkout/sessions' } stripe_requests() }

sub rfc3339 { POSIX::strftime('%Y-%m-%dT%H:%M:%SZ', gmtime shift) }

sub error_is {
    my ($name, $st, $b, $raw, $want_st, $want_code) = @_;
    my $ok = is($st, $want_st, "$name: $want_st");
    $ok &= is($b && $b->{error} && $b->{error}{code}, $want_code, "$name: $want_code");
    diag("answer was: $raw") unless $ok;
}

# ---- a user who never subscribed ------------------------------------------------------
my $basic = signup_and_login();
my $uid = $basic->{user}{id};
for my $path ('/subscription/status', '/subscribe/status') {
    my ($st, $d, $raw) = status($basic->{token}, $path);
    is($st, 200, "never subscribed: GET $path 200") or diag($raw);
    is_deeply([ sort keys %{ $d || {} } ], \@STATUS_KEYS, "never subscribed: $path has exactly the contract's fields");
    is($d->{tier}, 'basic', "never subscribed: $path tier basic");
    ok(exists $d->{status} && !defined $d->{status}, "never subscribed: $path status null");
    ok(exists $d->{current_period_end} && !defined $d->{current_period_end},
       "never subscribed: $path current_period_end null");
    ok(JSON::PP::is_bool($d->{cancel_at_period_end}) && !$d->{cancel_at_period_end},
       "never subscribed: $path cancel_at_period_end false (a boolean)");
    is($d->{daily_limit}, 5, "never subscribed: $path daily_limit 5");
    is($d->{used_today}, 0, "never subscribed: $path used_today 0");
    is($d->{remaining_today}, 5, "never subscribed: $path remaining_today 5");
}
{
    my ($st) = api_get('/subscription/status');
    is($st, 401, 'status without a token: 401');
    ($st) = api_post('/subscribe/pro', json => {});
    is($st, 401, 'subscribe without a token: 401');
}

# ---- POST /subscribe/pro: the Checkout Session Stripe receives ------------------------
stripe_requests('clear');
my ($st, $h, $b, $raw) = subscribe($basic->{token});
is($st, 200, 'subscribe: 200') or diag($raw);
my $sid = $b->{data}{session_id} // '';
like($sid, qr/^cs_test_\w+$/, 'subscribe: data.session_id is the session id (cs_...)');
is($b->{data}{checkout_url}, "$STRIPE_BASE/pay/$sid", "subscribe: data.checkout_url is the session's url");
ok($b->{success}, 'subscribe: success envelope');

my @calls = checkout_calls();
is(scalar @calls, 1, 'subscribe: exactly one call to Stripe');
my $call = $calls[0] || {};
is($call->{method}, 'POST', 'Stripe call: POST /v1/checkout/sessions');
is($call->{status}, 200, 'Stripe call: the stand-in accepted it');
is($call->{headers}{authorization}, 'Bearer sk_test_standin', 'Stripe call: Bearer secret key');
like($call->{headers}{'content-type'} // '', qr{^application/x-www-form-urlencoded\b},
     'Stripe call: form-encoded');
my $key1 = $call->{headers}{'idempotency-key'} // '';
like($key1, qr/^[\x21-\x7e]{1,255}$/, 'Stripe call: an Idempotency-Key header');
my $p = $call->{params} || {};
is($p->{mode}, 'subscription', 'form: mode=subscription');
is_deeply($p->{line_items}, [ { price => $PRICE, quantity => '1' } ],
          'form: one line item, the configured price, quantity 1');
is($p->{client_reference_id}, "$uid", 'form: client_reference_id = user id');
is_deeply($p->{metadata}, { user_id => "$uid" }, 'form: metadata[user_id] = user id');
is_deeply($p->{subscription_data}, { metadata => { user_id => "$uid" } },
          'form: subscription_data[metadata][user_id] = user id');
like($p->{success_url} // '', qr{^http://localhost:\d+/subscription/status\?checkout=success$},
     'form: the configured success_url');
like($p->{cancel_url} // '', qr{^http://localhost:\d+/subscription/status\?checkout=cancel$},
     'form: the configured cancel_url');
ok(!exists $p->{customer}, 'form: no customer while the user has none');
like($call->{body} // '', qr/line_items%5B0%5D%5Bprice%5D=|line_items\[0\]\[price\]=/,
     'form: bracket keys on the wire');

# a second click: a new session under a new key
stripe_requests('clear');
($st, undef, $b, $raw) = subscribe($basic->{token});
is($st, 200, 'second subscribe: 200') or diag($raw);
isnt($b->{data}{session_id}, $sid, 'second subscribe: another session');
@calls = checkout_calls();
isnt($calls[0] && $calls[0]{headers}{'idempotency-key'}, $key1, 'second subscribe: a new Idempotency-Key');

# the path alias, and no body at all (an empty body counts as {})
($st, undef, $b, $raw) = subscribe($basic->{token}, path => '/subscription/pro');
is($st, 200, 'POST /subscription/pro (alias): 200') or diag($raw);
like($b->{data}{session_id} // '', qr/^cs_test_/, 'alias: a session id');
($st, undef, $b, $raw) = api_post('/subscribe/pro', token => $basic->{token});
is($st, 200, 'subscribe with no body: 200') or diag($raw);
($st) = api_get('/subscribe/pro', token => $basic->{token});
is($st, 405, 'GET /subscribe/pro: 405');

# ---- Stripe failures ----------------------------------------------------------------
# Two 500s, then success: retried with the same key, and the user never knows.
stripe_requests('clear');
stripe_control({ fail => '500', count => 2 });
($st, undef, $b, $raw) = subscribe($basic->{token});
is($st, 200, '500 twice then success: 200') or diag($raw);
@calls = checkout_calls();
is_deeply([ map { $_->{status} } @calls ], [ 500, 500, 200 ], '500 twice then success: three attempts');
my %keys = map { ($_->{headers}{'idempotency-key'} // '') => 1 } @calls;
is(scalar keys %keys, 1, '500 twice then success: the same Idempotency-Key on every retry');
ok(!$keys{$key1}, '500 twice then success: not an earlier call\'s key');
is($b->{data}{session_id}, (stripe_call('GET', '/__state'))[1]{sessions}{$b->{data}{session_id}}{id},
   '500 twice then success: the session Stripe created');

my $mark = error_log_mark();
stripe_requests('clear');
stripe_control({ fail => '500' });
($st, undef, $b, $raw) = subscribe($basic->{token});
error_is('persistent 500', $st, $b, $raw, 502, 'UPSTREAM_ERROR');
@calls = checkout_calls();
is(scalar @calls, 3, 'persistent 500: three attempts, then it gives up');
%keys = map { ($_->{headers}{'idempotency-key'} // '') => 1 } @calls;
is(scalar keys %keys, 1, 'persistent 500: one Idempotency-Key for all attempts');
ok(error_log_grep(qr/GC00111/, $mark), 'persistent 500: logged (GC00111)');
ok(error_log_grep(qr/GC00111.*req_/, $mark), "persistent 500: the log names Stripe's Request-Id");

stripe_requests('clear');
stripe_control({ fail => '402' });
($st, undef, $b, $raw) = subscribe($basic->{token});
error_is('402 card declined', $st, $b, $raw, 502, 'UPSTREAM_ERROR');
is(scalar(checkout_calls()), 1, '402: not retried');
unlike($raw, qr/declined|card_error|sk_test/i, "402: Stripe's message stays out of the answer");
stripe_control();

# A call that times out after Stripe created the session: the retry reuses
# the key and gets that very session back (one session, not two).
stripe_requests('clear');
my %before = %{ (stripe_call('GET', '/__state'))[1]{sessions} };
stripe_control({ fail => 'timeout', count => 1 });
($st, undef, $b, $raw) = subscribe($basic->{token});
is($st, 200, 'timeout once: the retry answers 200') or diag($raw);
@calls = checkout_calls();
is(scalar @calls, 2, 'timeout once: two attempts');
is($calls[0] && $calls[0]{status}, 0, 'timeout once: the first never answered');
is($calls[1] && $calls[1]{headers}{'idempotency-key'}, $calls[0] && $calls[0]{headers}{'idempotency-key'},
   'timeout once: the retry carries the same Idempotency-Key');
my %after = %{ (stripe_call('GET', '/__state'))[1]{sessions} };
my @new = grep { !$before{$_} } keys %after;
is_deeply(\@new, [ $b->{data}{session_id} ], 'timeout once: exactly one session created, the one returned');

# Stripe unreachable (connection refused): retried, then 502.
Apache::TestRequest::module('stripe_unreachable');
($st, undef, $b, $raw) = subscribe($basic->{token});
error_is('Stripe unreachable', $st, $b, $raw, 502, 'UPSTREAM_ERROR');
Apache::TestRequest::module('default');

# ---- the upgrade, end to end ----------------------------------------------------------
my $pro = signup_and_login();
my $pro_id = $pro->{user}{id};
($st, undef, $b, $raw) = subscribe($pro->{token});
is($st, 200, 'upgrade: subscribe 200') or diag($raw);
my $done = stripe_complete($b->{data}{session_id});
my @events = @{ $done->{events} || [] };
is_deeply([ map { $_->{type} } @events ],
          [ 'checkout.session.completed', 'customer.subscription.created', 'invoice.paid' ],
          'upgrade: the stand-in delivered the three events of a paid checkout');
for my $e (@events) {
    is($e->{status}, 200, "upgrade: $e->{type} answered 200");
    my $r = json_decode($e->{response});
    is_deeply($r && $r->{data}, { received => JSON::PP::true }, "upgrade: $e->{type} data {received: true}");
}
my $sub = $done->{subscription} || {};
my $cus = $done->{customer} // '';
my $d;
($st, $d, $raw) = status($pro->{token});
is($st, 200, 'upgraded: status 200') or diag($raw);
is($d->{tier}, 'pro', 'upgraded: tier pro');
is($d->{status}, 'active', 'upgraded: status active');
is($d->{current_period_end}, rfc3339($sub->{current_period_end} // 0),
   "upgraded: current_period_end is the subscription's");
ok(JSON::PP::is_bool($d->{cancel_at_period_end}) && !$d->{cancel_at_period_end},
   'upgraded: cancel_at_period_end false');
ok(exists $d->{daily_limit} && !defined $d->{daily_limit}, 'upgraded: daily_limit null (unlimited)');
ok(exists $d->{remaining_today} && !defined $d->{remaining_today}, 'upgraded: remaining_today null');
is($d->{used_today}, 0, 'upgraded: used_today 0');
is(scalar psql("SELECT stripe_customer_id FROM users WHERE id = $pro_id"), $cus,
   'upgraded: the Stripe customer is linked to the user');
is(scalar psql("SELECT user_id || ' ' || status FROM subscriptions WHERE id = '$sub->{id}'"),
   "$pro_id active", 'upgraded: the subscription is stored for the user');

stripe_requests('clear');
($st, undef, $b, $raw) = subscribe($pro->{token});
error_is('already Pro', $st, $b, $raw, 409, 'ALREADY_SUBSCRIBED');
is(scalar(checkout_calls()), 0, 'already Pro: Stripe is not called');
($st, undef, $b, $raw) = subscribe($pro->{token}, path => '/subscription/pro');
error_is('already Pro (alias)', $st, $b, $raw, 409, 'ALREADY_SUBSCRIBED');

# ---- daily limits: Basic 5, Pro unlimited ---------------------------------------------
# Prefer: respond-async answers 202 once the prompt is accepted, so the
# quota is exercised without waiting for a reply.
sub room_for {
    my $u = shift;
    my ($s, undef, $rb, $rr) = api_post('/chatroom', token => $u->{token}, json => { name => 'limits' });
    die "chatroom: $s $rr\n" unless $s == 201 || $s == 200;
    return $rb->{data}{id};
}
sub prompt {
    my ($u, $room, $n) = @_;
    return api_post("/chatroom/$room/message", token => $u->{token},
                    headers => { Prefer => 'respond-async' }, json => { content => "prompt $n" });
}

my $basic_room = room_for($basic);

for my $n (1 .. 5) {
    my ($s, $hh, undef, $rr) = prompt($basic, $basic_room, $n);
    is($s, 202, "Basic prompt $n: 202");
    is($hh->{'x-ratelimit-limit'}, 5, "Basic prompt $n: X-RateLimit-Limit 5");
    diag($rr) if $s != 202;
}
($st, $h, $b, $raw) = prompt($basic, $basic_room, 6);
error_is('Basic prompt 6', $st, $b, $raw, 429, 'RATE_LIMITED');
like($h->{'retry-after'} // '', qr/^\d+$/, 'Basic prompt 6: Retry-After');
is($h->{'x-ratelimit-remaining'}, 0, 'Basic prompt 6: X-RateLimit-Remaining 0');
($st, $d) = status($basic->{token});
is_deeply([ @{$d}{qw(tier daily_limit used_today remaining_today)} ], [ 'basic', 5, 5, 0 ],
          'Basic after 5 prompts: status says 5 of 5 used');

my $pro_room = room_for($pro);
my $pro_ok = 1;
for my $n (1 .. 7) {
    my ($s, $hh, undef, $rr) = prompt($pro, $pro_room, $n);
    $pro_ok &&= $s == 202 && ($hh->{'x-ratelimit-limit'} // '') eq 'unlimited'
        && ($hh->{'x-ratelimit-remaining'} // '') eq 'unlimited';
    diag("Pro prompt $n: $s $rr") if $s != 202;
}
ok($pro_ok, 'Pro: 7 prompts in a day all 202, X-RateLimit-Limit/Remaining unlimited');
($st, $d) = status($pro->{token});
is($d->{used_today}, 7, 'Pro: used_today counts every accepted prompt');
ok(!defined $d->{daily_limit} && !defined $d->{remaining_today}, 'Pro: no limit shown');

# ---- cancellation ------------------------------------------------------------------------
# At period end first: still Pro, the flag shows.
my ($cst, $cb) = stripe_call('POST', '/__cancel', { subscription => $sub->{id}, at_period_end => JSON::PP::true });
is($cb && $cb->{delivery}{status}, 200, 'cancel at period end: the webhook answered 200');
($st, $d) = status($pro->{token});
ok($d->{cancel_at_period_end} && JSON::PP::is_bool($d->{cancel_at_period_end}),
   'cancel at period end: cancel_at_period_end true');
is_deeply([ @{$d}{qw(tier status)} ], [ 'pro', 'active' ], 'cancel at period end: still Pro and active');

# Then the subscription ends: Basic again, the quota applies at once.
($cst, $cb) = stripe_call('POST', '/__cancel', { subscription => $sub->{id} });
is($cb && $cb->{event}{type}, 'customer.subscription.deleted', 'cancel: customer.subscription.deleted');
is($cb && $cb->{delivery}{status}, 200, 'cancel: the webhook answered 200');
($st, $d) = status($pro->{token});
is_deeply([ @{$d}{qw(tier status daily_limit used_today remaining_today)} ],
          [ 'basic', 'canceled', 5, 7, 0 ], 'canceled: Basic, status canceled, 7 used of 5');
($st, $h, $b, $raw) = prompt($pro, $pro_room, 8);
error_is('canceled user, prompt 8', $st, $b, $raw, 429, 'RATE_LIMITED');
is($h->{'x-ratelimit-limit'}, 5, 'canceled user: X-RateLimit-Limit 5 again');

# Subscribing again reuses the Stripe customer.
stripe_requests('clear');
($st, undef, $b, $raw) = subscribe($pro->{token});
is($st, 200, 'resubscribe: 200') or diag($raw);
@calls = checkout_calls();
is($calls[0] && $calls[0]{params}{customer}, $cus, 'resubscribe: customer=cus_... of the first checkout');
like($cus, qr/^cus_\w+$/, 'resubscribe: a Stripe customer id');
my $again = stripe_complete($b->{data}{session_id});
is($again->{customer}, $cus, 'resubscribe: Stripe kept the same customer');
($st, $d) = status($pro->{token});
is_deeply([ @{$d}{qw(tier status)} ], [ 'pro', 'active' ], 'resubscribed: Pro and active again');
is(scalar psql("SELECT count(*) FROM subscriptions WHERE user_id = $pro_id"), 2,
   'resubscribed: two subscriptions stored, the newest shown');
