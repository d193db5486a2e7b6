# POST /webhook/stripe (API.md, Subscriptions): the signature is checked on
# the raw bytes before anything else (a refused event changes nothing),
# each event id applies once, an older event never rolls state back and a
# final status wins a tie, past_due keeps Pro for the grace only, a failed
# first payment never makes Pro, unusable events are acknowledged and
# logged, an event that cannot be stored is 503 and applies when delivered
# again, and the user is found through metadata or a linked customer.
# Hand-made events go through the stand-in's /__send_event (signed with the
# shared secret) or, for signature cases, straight to the webhook.
use strict;
use warnings FATAL => 'all';

use Apache::Test qw(-withtestmore);
use JSON::PP ();
use GC::Test;

plan tests => 110;

my $pg_down = 0;
END {
    local $?;
    eval { pg_start() } if $pg_down;
    clock_reset();
}

my $seq = 0;
my $tag = "t61$$";
sub fresh_id { my $p = shift; return sprintf('%s%s_%d', $p, $tag, ++$seq) }

# A subscription object as Stripe sends it (the fields we read, and a few more).
sub sub_obj {
    my (%o) = @_;
    my $end = $o{end} // time() + 30 * 86400;
    return {
        id => $o{id}, object => 'subscription', status => $o{status},
        customer => $o{customer} // fresh_id('cus_'),
        cancel_at_period_end => $o{cancel} ? JSON::PP::true : JSON::PP::false,
        current_period_end => $end,
        items => { object => 'list', data => [ { object => 'subscription_item', current_period_end => $end } ] },
        metadata => defined $o{user} ? { user_id => "$o{user}" } : {},
    };
}

sub invoice_obj {
    my ($sub, $customer) = @_;
    return { id => fresh_id('in_'), object => 'invoice', customer => $customer,
             parent => { type => 'subscription_details',
                         subscription_details => { subscription => $sub, metadata => {} } } };
}

# send(TYPE, OBJECT, %opt) -> (our status, our decoded answer, the event)
sub send_ev {
    my ($type, $obj, %opt) = @_;
    my $r = stripe_send_event($type, $obj, %opt);
    my $d = $r->{delivery} || {};
    return ($d->{status} // 0, json_decode($d->{response}), $r->{event});
}

sub received_ok {
    my ($name, $st, $b) = @_;
    ok($st == 200 && $b && $b->{success} && $b->{data} && $b->{data}{received}
       && JSON::PP::is_bool($b->{data}{received}), "$name: 200 {received: true}")
        or diag("got $st " . json_encode($b));
}

sub sub_row {
    my $id = shift;
    return scalar psql("SELECT status || '|' || coalesce(cancel_at_period_end::text, '-') || '|' ||"
                       . " coalesce(extract(epoch FROM past_due_since)::bigint::text, '-')"
                       . " FROM subscriptions WHERE id = '$id'") // 'none';
}

sub status_of {
    my $token = shift;
    my ($st, undef, $b) = api_get('/subscription/status', token => $token);
    return $b && $b->{data} || {};
}

# A new token at the server's (possibly shifted) time.
sub relogin {
    my $u = shift;
    my ($st, undef, $b, $raw) = api_post('/auth/send-otp', json => { mobile => $u->{mobile} });
    die "send-otp $st: $raw\n" unless $st == 200;
    ($st, undef, $b, $raw) = api_post('/auth/verify-otp', json => { mobile => $u->{mobile}, otp => $b->{data}{otp} });
    die "verify-otp $st: $raw\n" unless $st == 200;
    return $b->{data}{token};
}

sub post_webhook {
    my ($body, $sig) = @_;
    my %h = ('Content-Type' => 'application/json; charset=utf-8');
    $h{'Stripe-Signature'} = $sig if defined $sig;
    return api_post('/webhook/stripe', body => $body, headers => \%h);
}

# Subscriptions and tiers; snapshot() adds the number of events recorded.
sub state_only {
    return join ';', psql("SELECT id || ':' || status || ':' || event_created FROM subscriptions ORDER BY id"),
        psql("SELECT coalesce(string_agg(id || '=' || coalesce(pro_until::text, '-'), ',' ORDER BY id), '') FROM users");
}
sub snapshot { return state_only() . ';' . psql("SELECT count(*) FROM stripe_events") }

# ---- signatures ---------------------------------------------------------------------------
my $victim = signup_and_login();
my $vid = $victim->{user}{id};
my $vsub = fresh_id('sub_');
my $now = time();
my $event = { id => fresh_id('evt_'), object => 'event', type => 'customer.subscription.created',
              created => $now, livemode => JSON::PP::false, api_version => '2025-03-31.basil',
              data => { object => sub_obj(id => $vsub, status => 'active', user => $vid) } };
my $body = json_encode($event);
my $secret = stripe_webhook_secret();
my $valid = sign_webhook($body, $now);
my $mac = ($valid =~ /v1=([0-9a-f]+)/)[0];

my $mark = error_log_mark();
my $before = snapshot();
my @refused = (
    [ 'no Stripe-Signature header', undef ],
    [ 'an empty header', '' ],
    [ 'garbage', 'this is not a signature' ],
    [ 'v1 without t', "v1=$mac" ],
    [ 'wrong secret', sign_webhook($body, $now, 'whsec_someone_else') ],
    [ 'stale t (400 s ago)', sign_webhook($body, $now - 400) ],
    [ 't 301 s ago', sign_webhook($body, $now - 301) ],
    [ 't 400 s ahead', sign_webhook($body, $now + 400) ],
    [ 'v0 only (a valid MAC under the old scheme name)', "t=$now,v0=$mac" ],
    [ 'the valid MAC of another timestamp', "t=" . ($now - 1) . ",v1=$mac" ],
);
for my $c (@refused) {
    my ($st, undef, $b, $raw) = post_webhook($body, $c->[1]);
    ok($st == 400 && $b && $b->{error}{code} eq 'INVALID_SIGNATURE', "refused ($c->[0]): 400 INVALID_SIGNATURE")
        or diag("got $st $raw");
}
{
    # one byte of the body changed after signing
    (my $tampered = $body) =~ s/"active"/"activf"/;
    my ($st, undef, $b) = post_webhook($tampered, $valid);
    is($st, 400, 'refused (body changed after signing): 400');
    # a refused body is never parsed: not even garbage makes it 500
    ($st, undef, $b) = post_webhook('{not json', 't=1,v1=00');
    is($st, 400, 'refused (unparseable body, bad signature): 400, not parsed');
}
is(snapshot(), $before, 'refused events changed nothing (subscriptions, events, tiers)');
is(sub_row($vsub), 'none', 'refused events: the subscription was never stored');
ok(error_log_grep(qr/GC00121/, $mark), 'refused events are logged (GC00121)');

# Every time rule reads the module's clock: after a shift, a signature with
# the real time is stale, one with the shifted time is fresh.
clock_shift(1000);
{
    my ($st, undef, $b) = post_webhook($body, sign_webhook($body, time()));
    is($st, 400, 'clock +1000 s: a real-time t is stale (400)');
    is(snapshot(), $before, 'clock +1000 s: the stale event changed nothing');
}
{
    my ($st, undef, $b) = post_webhook($body, sign_webhook($body, time() + clock_offset()));
    received_ok('clock +1000 s: t at the shifted time is fresh', $st, $b);
    is(sub_row($vsub), 'active|false|-', 'clock +1000 s: the fresh event applied');
}
clock_reset();

# several v1 (a secret being rolled): any may match; extra v0 ignored
{
    my $ev2 = { %$event, id => fresh_id('evt_'), created => $now + 1,
                data => { object => sub_obj(id => $vsub, status => 'active', user => $vid, cancel => 1) } };
    my $b2 = json_encode($ev2);
    my $good = (sign_webhook($b2, $now) =~ /v1=([0-9a-f]+)/)[0];
    my ($st, undef, $b) = post_webhook($b2, "t=$now,v1=" . ('0' x 64) . ",v1=$good,v0=" . ('1' x 64));
    received_ok('two v1 and a v0, one v1 valid', $st, $b);
    is(sub_row($vsub), 'active|true|-', 'two v1, one valid: applied');
    # the stand-in's own "multi" header (bogus v1, valid v1, v0) too
    my ($st3, $b3) = send_ev('customer.subscription.updated',
                             sub_obj(id => $vsub, status => 'active', user => $vid), created => $now + 2, multi => 1);
    received_ok("the stand-in's multi-signature header", $st3, $b3);
    is(sub_row($vsub), 'active|false|-', 'multi-signature event applied');
}
# the stand-in signing with another secret or a stale timestamp
{
    my ($st) = send_ev('customer.subscription.updated', sub_obj(id => $vsub, status => 'canceled', user => $vid),
                       created => $now + 3, secret => 'whsec_wrong');
    is($st, 400, 'stand-in, wrong secret: 400');
    ($st) = send_ev('customer.subscription.updated', sub_obj(id => $vsub, status => 'canceled', user => $vid),
                    created => $now + 3, timestamp => time() - 600);
    is($st, 400, 'stand-in, stale timestamp: 400');
    ($st) = send_ev('customer.subscription.updated', sub_obj(id => $vsub, status => 'canceled', user => $vid),
                    created => $now + 3, signature => '');
    is($st, 400, 'stand-in, no signature: 400');
    is(sub_row($vsub), 'active|false|-', 'none of them changed the subscription');
}

# ---- replays ------------------------------------------------------------------------------
# payment_failed then paid; the failure again (same id) must not undo the payment.
{
    my $u = signup_and_login();
    my $s = fresh_id('sub_');
    my $c = fresh_id('cus_');
    my $t = time() - 100;
    my ($st, $b) = send_ev('customer.subscription.created', sub_obj(id => $s, status => 'active', user => $u->{user}{id}, customer => $c), created => $t);
    received_ok('replay setup: subscription created', $st, $b);
    my $failed_id = fresh_id('evt_');
    ($st, $b) = send_ev('invoice.payment_failed', invoice_obj($s, $c), created => $t + 10, id => $failed_id);
    received_ok('replay setup: invoice.payment_failed', $st, $b);
    like(sub_row($s), qr/^past_due\|/, 'replay setup: past_due');
    ($st, $b) = send_ev('invoice.paid', invoice_obj($s, $c), created => $t + 10);
    received_ok('replay setup: invoice.paid', $st, $b);
    is(sub_row($s), 'active|false|-', 'replay setup: active again, grace cleared');
    my $events = psql('SELECT count(*) FROM stripe_events');
    my ($rst, $rb) = stripe_call('POST', '/__redeliver', { event_id => $failed_id });
    is($rb && $rb->{delivery}{status}, 200, 'replayed invoice.payment_failed: 200');
    my $resp = json_decode($rb && $rb->{delivery}{response});
    is_deeply($resp && $resp->{data}, { received => JSON::PP::true }, 'replayed: data {received: true}');
    is(sub_row($s), 'active|false|-', 'replayed: changed nothing');
    is(psql('SELECT count(*) FROM stripe_events'), $events, 'replayed: not recorded twice');
    is(status_of($u->{token})->{tier}, 'pro', 'replayed: still Pro');
}

# ---- order --------------------------------------------------------------------------------
my $t0 = time() - 3000;
{
    my $u = signup_and_login();
    my $s = fresh_id('sub_');
    my ($st, $b) = send_ev('customer.subscription.updated', sub_obj(id => $s, status => 'active', user => $u->{user}{id}), created => $t0 + 10);
    received_ok('order: active at t+10', $st, $b);
    ($st, $b) = send_ev('customer.subscription.updated', sub_obj(id => $s, status => 'past_due', user => $u->{user}{id}, cancel => 1), created => $t0 + 5);
    received_ok('order: an older past_due (t+5) arrives late', $st, $b);
    is(sub_row($s), 'active|false|-', 'order: the older event changed nothing');
    ($st, $b) = send_ev('customer.subscription.deleted', sub_obj(id => $s, status => 'canceled', user => $u->{user}{id}), created => $t0 + 9);
    is(sub_row($s), 'active|false|-', 'order: an older deletion changed nothing either');
    is(status_of($u->{token})->{tier}, 'pro', 'order: still Pro');
}
# equal created: active then canceled -> canceled; then active again -> still canceled
{
    my $u = signup_and_login();
    my $s = fresh_id('sub_');
    send_ev('customer.subscription.created', sub_obj(id => $s, status => 'active', user => $u->{user}{id}), created => $t0 + 20);
    my ($st, $b) = send_ev('customer.subscription.deleted', sub_obj(id => $s, status => 'canceled', user => $u->{user}{id}), created => $t0 + 20);
    received_ok('tie: deleted in the same second', $st, $b);
    is(sub_row($s), 'canceled|false|-', 'tie, active then canceled: canceled');
    send_ev('customer.subscription.updated', sub_obj(id => $s, status => 'active', user => $u->{user}{id}), created => $t0 + 20);
    is(sub_row($s), 'canceled|false|-', 'tie, then active again: canceled stays');
    my $d = status_of($u->{token});
    is_deeply([ @{$d}{qw(tier status)} ], [ 'basic', 'canceled' ], 'tie: Basic, status canceled');
}
# equal created, reversed: canceled first, active second -> canceled
{
    my $u = signup_and_login();
    my $s = fresh_id('sub_');
    send_ev('customer.subscription.deleted', sub_obj(id => $s, status => 'canceled', user => $u->{user}{id}), created => $t0 + 30);
    send_ev('customer.subscription.created', sub_obj(id => $s, status => 'active', user => $u->{user}{id}), created => $t0 + 30);
    is(sub_row($s), 'canceled|false|-', 'tie, canceled then active: canceled');
    is(status_of($u->{token})->{tier}, 'basic', 'tie, canceled then active: Basic');
    # incomplete_expired is final too
    my $s2 = fresh_id('sub_');
    send_ev('customer.subscription.updated', sub_obj(id => $s2, status => 'incomplete_expired', user => $u->{user}{id}), created => $t0 + 31);
    send_ev('customer.subscription.updated', sub_obj(id => $s2, status => 'active', user => $u->{user}{id}), created => $t0 + 31);
    is(sub_row($s2), 'incomplete_expired|false|-', 'tie, incomplete_expired then active: incomplete_expired');
}
# equal created: incomplete never replaces active (created and updated reversed)
{
    my $u = signup_and_login();
    my $s = fresh_id('sub_');
    send_ev('customer.subscription.updated', sub_obj(id => $s, status => 'active', user => $u->{user}{id}), created => $t0 + 40);
    send_ev('customer.subscription.created', sub_obj(id => $s, status => 'incomplete', user => $u->{user}{id}), created => $t0 + 40);
    is(sub_row($s), 'active|false|-', 'tie, active then incomplete: active');
    is(status_of($u->{token})->{tier}, 'pro', 'tie, active then incomplete: Pro');
    # but a newer incomplete is newer
    send_ev('customer.subscription.updated', sub_obj(id => $s, status => 'incomplete', user => $u->{user}{id}), created => $t0 + 41);
    is(sub_row($s), 'incomplete|false|-', 'a newer incomplete applies');
}

# ---- a failed first payment never makes Pro --------------------------------------------
{
    my $u = signup_and_login();
    my $s = fresh_id('sub_');
    my $c = fresh_id('cus_');
    send_ev('customer.subscription.created', sub_obj(id => $s, status => 'incomplete', user => $u->{user}{id}, customer => $c), created => $t0 + 50);
    my ($st, $b) = send_ev('invoice.payment_failed', invoice_obj($s, $c), created => $t0 + 51);
    received_ok('first payment failed: 200', $st, $b);
    is(sub_row($s), 'incomplete|false|-', 'first payment failed: still incomplete, no grace');
    my $d = status_of($u->{token});
    is_deeply([ @{$d}{qw(tier status)} ], [ 'basic', 'incomplete' ], 'first payment failed: Basic, incomplete');
    ($st) = api_post('/subscribe/pro', token => $u->{token}, json => {});
    is($st, 200, 'first payment failed: may start a checkout again (not 409)');
}

# ---- past_due and its grace (through the stand-in) ---------------------------------------
{
    my $u = signup_and_login();
    my ($st, undef, $b) = api_post('/subscribe/pro', token => $u->{token}, json => {});
    my $done = stripe_complete($b->{data}{session_id});
    my $s = $done->{subscription}{id};
    is(status_of($u->{token})->{tier}, 'pro', 'grace: Pro after checkout');
    my ($ist, $ib) = stripe_call('POST', '/__invoice', { subscription => $s, paid => JSON::PP::false });
    is_deeply([ map { $_->{type} . ' ' . ($_->{status} // 'x') } @{ $ib->{events} || [] } ],
              [ 'invoice.payment_failed 200', 'customer.subscription.updated 200' ],
              'grace: payment_failed and the update to past_due delivered, 200 each');
    my $d = status_of($u->{token});
    is_deeply([ @{$d}{qw(tier status)} ], [ 'pro', 'past_due' ], 'grace: past_due is still Pro');
    ($st, undef, $b) = api_post('/subscribe/pro', token => $u->{token}, json => {});
    is($b && $b->{error}{code}, 'ALREADY_SUBSCRIBED', 'grace: still 409 ALREADY_SUBSCRIBED');

    clock_shift(3 * 86400 - 3600);
    my $tok = relogin($u);
    $d = status_of($tok);
    is_deeply([ @{$d}{qw(tier status)} ], [ 'pro', 'past_due' ], 'grace: 3 days - 1 h later, still Pro');
    ok(!defined $d->{daily_limit}, 'grace: no daily limit yet');

    clock_shift(3600 + 120);
    $tok = relogin($u);
    $d = status_of($tok);
    is_deeply([ @{$d}{qw(tier status daily_limit)} ], [ 'basic', 'past_due', 5 ],
              'grace: 3 days + 2 min later, Basic (status still past_due)');
    ($st) = api_post('/subscribe/pro', token => $tok, json => {});
    is($st, 200, 'grace over: may subscribe again');
    clock_reset();

    ($ist, $ib) = stripe_call('POST', '/__invoice', { subscription => $s, paid => JSON::PP::true });
    is_deeply([ map { $_->{type} . ' ' . ($_->{status} // 'x') } @{ $ib->{events} || [] } ],
              [ 'invoice.paid 200', 'customer.subscription.updated 200' ], 'paid again: delivered, 200 each');
    $d = status_of($u->{token});
    is_deeply([ @{$d}{qw(tier status)} ], [ 'pro', 'active' ], 'paid again: Pro and active');
    is(sub_row($s), 'active|false|-', 'paid again: the grace start is cleared');
    # a later failure starts a new grace from its own time
    ($ist, $ib) = stripe_call('POST', '/__invoice', { subscription => $s, paid => JSON::PP::false });
    my $since = (split /\|/, sub_row($s))[2];
    ok($since ne '-' && abs($since - time()) < 60, 'a new failure: a new grace start (now)');
    my ($cst, $cb) = stripe_call('POST', '/__cancel', { subscription => $s });
    is($cb && $cb->{delivery}{status}, 200, 'deleted while past_due: 200');
    $d = status_of($u->{token});
    is_deeply([ @{$d}{qw(tier status)} ], [ 'basic', 'canceled' ], 'deleted while past_due: Basic at once');
}

# ---- events we cannot use: 200, logged, ignored ------------------------------------------
{
    my $u = signup_and_login();
    $mark = error_log_mark();
    $before = state_only();
    my @cases = (
        [ 'unknown type', 'customer.created', { id => fresh_id('cus_'), object => 'customer' } ],
        [ 'unknown user', 'customer.subscription.created',
          sub_obj(id => fresh_id('sub_'), status => 'active', user => 987654321) ],
        [ 'no user at all', 'customer.subscription.created', sub_obj(id => fresh_id('sub_'), status => 'active') ],
        [ 'subscription without status', 'customer.subscription.updated',
          { id => fresh_id('sub_'), object => 'subscription', metadata => { user_id => "$u->{user}{id}" } } ],
        [ 'subscription without id', 'customer.subscription.updated',
          { object => 'subscription', status => 'active', metadata => { user_id => "$u->{user}{id}" } } ],
        [ 'invoice without subscription', 'invoice.paid', { id => fresh_id('in_'), object => 'invoice' } ],
        [ 'invoice of an unknown subscription', 'invoice.paid', invoice_obj(fresh_id('sub_'), fresh_id('cus_')) ],
        [ 'checkout in payment mode', 'checkout.session.completed',
          { id => fresh_id('cs_'), object => 'checkout.session', mode => 'payment', client_reference_id => "$u->{user}{id}" } ],
    );
    for my $c (@cases) {
        my ($st, $b, $ev) = send_ev($c->[1], $c->[2]);
        received_ok("ignored ($c->[0])", $st, $b);
        ok(error_log_grep(qr/GC00120.*\Q$ev->{id}\E/, $mark), "ignored ($c->[0]): logged with GC00120 and the event id");
    }
    # a signed body that is not an event at all
    my $junk = '{"hello":"world"}';
    my ($st, undef, $b) = post_webhook($junk, sign_webhook($junk, time()));
    received_ok('signed, but not an event', $st, $b);
    is(state_only(), $before, 'ignored events changed no subscription and no tier');
    is(status_of($u->{token})->{status}, undef, 'ignored events: the user still never subscribed');
}

# ---- who the event is for ---------------------------------------------------------------
{
    # metadata.user_id, with a customer nobody knows yet
    my $m = signup_and_login();
    my $s = fresh_id('sub_');
    my ($st, $b) = send_ev('customer.subscription.created', sub_obj(id => $s, status => 'active', user => $m->{user}{id}));
    received_ok('metadata.user_id', $st, $b);
    is(scalar psql("SELECT user_id FROM subscriptions WHERE id = '$s'"), $m->{user}{id}, 'metadata.user_id: the subscription is that user\'s');
    is(status_of($m->{token})->{tier}, 'pro', 'metadata.user_id: that user is Pro');

    # a checkout links the customer; later events name only the customer
    my $l = signup_and_login();
    my $c = fresh_id('cus_');
    my $s1 = fresh_id('sub_');
    ($st, $b) = send_ev('checkout.session.completed',
        { id => fresh_id('cs_'), object => 'checkout.session', mode => 'subscription',
          client_reference_id => "$l->{user}{id}", customer => $c, subscription => $s1,
          payment_status => 'paid', status => 'complete', metadata => {} });
    received_ok('checkout.session.completed (client_reference_id)', $st, $b);
    is(scalar psql("SELECT stripe_customer_id FROM users WHERE id = $l->{user}{id}"), $c, 'checkout: the customer is linked');
    my $d = status_of($l->{token});
    is_deeply([ @{$d}{qw(tier status)} ], [ 'pro', 'active' ], 'checkout paid: counts as active');
    my $s2 = fresh_id('sub_');
    ($st, $b) = send_ev('customer.subscription.created', sub_obj(id => $s2, status => 'trialing', customer => $c));
    received_ok('a subscription naming only the linked customer', $st, $b);
    is(scalar psql("SELECT user_id FROM subscriptions WHERE id = '$s2'"), $l->{user}{id}, 'linked customer: found the user');

    # a checkout for another user naming L's customer: applied, the link stays L's
    my $o = signup_and_login();
    $mark = error_log_mark();
    my $s3 = fresh_id('sub_');
    ($st, $b) = send_ev('checkout.session.completed',
        { id => fresh_id('cs_'), object => 'checkout.session', mode => 'subscription',
          client_reference_id => "$o->{user}{id}", customer => $c, subscription => $s3,
          payment_status => 'paid', metadata => {} });
    received_ok("checkout naming another user's customer", $st, $b);
    is(scalar psql("SELECT coalesce(stripe_customer_id, '-') FROM users WHERE id = $o->{user}{id}"), '-',
       "another user's customer: not moved to this user");
    is(scalar psql("SELECT user_id FROM subscriptions WHERE id = '$s3'"), $o->{user}{id},
       "another user's customer: the subscription is this user's");
    ok(error_log_grep(qr/GC00124/, $mark), "another user's customer: logged (GC00124)");

    # metadata.user_id on a checkout without client_reference_id
    my $k = signup_and_login();
    ($st, $b) = send_ev('checkout.session.completed',
        { id => fresh_id('cs_'), object => 'checkout.session', mode => 'subscription',
          customer => fresh_id('cus_'), subscription => fresh_id('sub_'), payment_status => 'unpaid',
          metadata => { user_id => "$k->{user}{id}" } });
    received_ok('checkout.session.completed (metadata.user_id, unpaid)', $st, $b);
    $d = status_of($k->{token});
    is_deeply([ @{$d}{qw(tier status)} ], [ 'basic', 'incomplete' ], 'unpaid checkout: linked, not Pro');
}

# ---- PostgreSQL down: 503, and the same event applies once delivered again ----------------
{
    my $u = signup_and_login();
    my $s = fresh_id('sub_');
    my $id = fresh_id('evt_');
    pg_stop();
    $pg_down = 1;
    my ($st, $b) = send_ev('customer.subscription.created', sub_obj(id => $s, status => 'active', user => $u->{user}{id}), id => $id);
    is($st, 503, 'PostgreSQL down: 503 so that Stripe delivers again');
    is($b && $b->{error}{code}, 'SERVICE_UNAVAILABLE', 'PostgreSQL down: SERVICE_UNAVAILABLE');
    pg_start();
    $pg_down = 0;
    my ($tries, $last) = (0, 0);
    while ($tries++ < 5) {
        my ($rst, $rb) = stripe_call('POST', '/__redeliver', { event_id => $id });
        $last = $rb && $rb->{delivery}{status} // 0;
        last if $last == 200;
        select(undef, undef, undef, 0.2);
    }
    is($last, 200, "PostgreSQL back: the redelivered event answers 200 (delivery $tries)");
    ok($tries <= 2, 'PostgreSQL back: healed on the first redelivery') or diag("took $tries");
    is(sub_row($s), 'active|false|-', 'PostgreSQL back: the event was applied');
    is(status_of($u->{token})->{tier}, 'pro', 'PostgreSQL back: the user is Pro');
    is(scalar psql("SELECT count(*) FROM stripe_events WHERE id = '$id'"), 1, 'PostgreSQL back: recorded once');
}
