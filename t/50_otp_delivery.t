# The production OTP mode (API.md, Auth): on the otp_delivery virtual host
# (t/conf/extra.conf.in) the module never returns a code; it POSTs
# {"mobile","otp","purpose"} to a gateway, signed with X-Gemclone-Signature
# (t=<unix>,v1=<hex HMAC-SHA256 of "t.body">), and a failed delivery is 502
# UPSTREAM_ERROR that leaves no resend throttle behind. The gateway here is a
# small forked receiver that records each request and answers as told.
use strict;
use warnings FATAL => 'all';

use Apache::Test qw(-withtestmore);
use Apache::TestRequest ();
use Digest::SHA qw(hmac_sha256_hex);
use File::Temp ();
use IO::Socket::INET ();
use POSIX ();
use GC::Test;

plan tests => 62;

my $PORT = $ENV{GC_TEST_OTP_RECEIVER_PORT}
    or die "GC_TEST_OTP_RECEIVER_PORT is not set: run through t/run-suite\n";
my $SECRET = $ENV{GC_TEST_OTP_DELIVERY_SECRET}
    or die "GC_TEST_OTP_DELIVERY_SECRET is not set: run through t/run-suite\n";

# ---- the receiver ------------------------------------------------------------------

my $dir = File::Temp::tempdir('gc-otp-receiver-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $receiver_pid;
my $received = 0;    # requests already looked at

# receiver_status(CODE): what the receiver answers from now on.
sub receiver_status {
    my $code = shift;
    open my $fh, '>', "$dir/status.tmp" or die $!;
    print $fh $code;
    close $fh;
    rename "$dir/status.tmp", "$dir/status" or die $!;
}

# Records one request as JSON in $dir/req-N.json and answers.
sub serve_one {
    my ($c, $n) = @_;
    local $/ = "\r\n";
    $c->autoflush(1);
    my $line = <$c> // return;
    $line =~ s/\r\n$//;
    my ($method, $path) = split / /, $line;
    my %h;
    while (defined(my $l = <$c>)) {
        $l =~ s/\r\n$//;
        last if $l eq '';
        my ($k, $v) = split /:\s*/, $l, 2;
        $h{lc $k} = $v;
    }
    my $body = '';
    my $len = $h{'content-length'} // 0;
    while (length $body < $len) {
        my $got = read($c, $body, $len - length $body, length $body);
        last unless $got;
    }
    open my $fh, '>', "$dir/req-$n.tmp" or die $!;
    print $fh json_encode({ method => $method, path => $path, headers => \%h, body => $body });
    close $fh;
    rename "$dir/req-$n.tmp", "$dir/req-$n.json";
    my $status = 200;
    if (open my $sf, '<', "$dir/status") { $status = <$sf> + 0; close $sf }
    my $reply = $status == 200 ? '{"queued":true}' : '{"error":"gateway says no"}';
    print $c "HTTP/1.1 $status X\r\nContent-Type: application/json\r\n"
           . "Content-Length: " . length($reply) . "\r\nConnection: close\r\n\r\n$reply";
    close $c;
}

# Listens in the parent (so it is ready before any request), serves in a child.
sub receiver_start {
    my $listen = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $PORT,
                                       Listen => 16, ReuseAddr => 1, Proto => 'tcp')
        or die "receiver: cannot listen on 127.0.0.1:$PORT: $!\n";
    my $pid = fork() // die "fork: $!";
    if ($pid == 0) {
        my $n = 0;
        # the sequence continues across restarts of the receiver
        $n++ while -e "$dir/req-" . ($n + 1) . '.json';
        while (my $c = $listen->accept) {
            serve_one($c, ++$n);
        }
        POSIX::_exit(0);
    }
    close $listen;
    $receiver_pid = $pid;
}

sub receiver_stop {
    return unless $receiver_pid;
    kill 'TERM', $receiver_pid;
    waitpid($receiver_pid, 0);
    undef $receiver_pid;
}

# local $?: waitpid in an END block would otherwise become the file's exit status.
END { local $?; receiver_stop(); Apache::TestRequest::module('default') }

# New requests the receiver recorded since the last call.
sub receiver_requests {
    my @r;
    while (-e "$dir/req-" . ($received + 1) . '.json') {
        $received++;
        open my $fh, '<', "$dir/req-$received.json" or die $!;
        local $/;
        push @r, json_decode(scalar <$fh>);
        close $fh;
    }
    return @r;
}

# Checks one delivery; returns its code.
sub delivery_ok {
    my ($name, $req, $mobile, $purpose) = @_;
    is($req->{method}, 'POST', "$name: POST");
    is($req->{path}, '/otp', "$name: to the configured URL's path");
    like($req->{headers}{'content-type'} // '', qr{^application/json\b}, "$name: JSON");
    my $msg = json_decode($req->{body});
    is_deeply([ sort keys %{ $msg || {} } ], [qw(mobile otp purpose)],
              "$name: body has exactly mobile, otp, purpose");
    is($msg->{mobile}, $mobile, "$name: mobile");
    like($msg->{otp} // '', qr/^[0-9]{6}$/, "$name: otp is 6 digits");
    is($msg->{purpose}, $purpose, "$name: purpose $purpose");
    my $sig = $req->{headers}{'x-gemclone-signature'} // '';
    my ($t, $v1) = $sig =~ /^t=(\d+),v1=([0-9a-f]{64})$/;
    ok(defined $t, "$name: X-Gemclone-Signature is t=<unix>,v1=<hex>") or diag("got '$sig'");
    is($v1, hmac_sha256_hex(($t // '') . '.' . $req->{body}, $SECRET),
       "$name: v1 is HMAC-SHA256 of t.body with the secret");
    ok(defined $t && abs($t - (time() + clock_offset())) <= 10, "$name: t is now");
    return $msg->{otp};
}

# ---- on the production-mode virtual host -------------------------------------------

END { local $?; clock_reset() }
clock_reset();
my $mark = error_log_mark();
my @codes;

Apache::TestRequest::module('otp_delivery');
my ($st, $h, $b, $raw) = api_get('/health');
is($st, 200, 'otp_delivery vhost answers');

receiver_start();
receiver_status(200);

my $mobile = random_mobile();
($st) = api_post('/auth/signup', json => { mobile => $mobile, password => 'first-password-1' });
is($st, 201, 'signup on the production-mode host');

# send-otp: 200, no code in the answer; the gateway got it
($st, $h, $b, $raw) = api_post('/auth/send-otp', json => { mobile => $mobile });
is($st, 200, 'send-otp: 200');
is_deeply($b && $b->{data}, { expires_in => 300 }, 'send-otp: data is just {expires_in}')
    or diag($raw);
my @req = receiver_requests();
is(scalar @req, 1, 'send-otp: the receiver got one request');
my $otp = delivery_ok('send-otp delivery', $req[0] || {}, $mobile, 'login');
push @codes, $otp;
unlike($raw, qr/\Q$otp\E/, 'send-otp: the code is nowhere in the response') if defined $otp;

($st, undef, $b, $raw) = api_post('/auth/verify-otp', json => { mobile => $mobile, otp => $otp });
is($st, 200, 'the delivered code logs in through verify-otp') or diag($raw);
my $token = $b->{data}{token};
($st) = api_get('/user/me', token => $token);
is($st, 200, 'and its token works');

# forgot-password: a reset code, purpose "reset"
($st, $h, $b, $raw) = api_post('/auth/forgot-password', json => { mobile => $mobile });
is($st, 200, 'forgot-password: 200');
ok($b && !exists $b->{data}{otp}, 'forgot-password: no otp in the answer') or diag($raw);
@req = receiver_requests();
is(scalar @req, 1, 'forgot-password: the receiver got one request');
my $reset = delivery_ok('forgot-password delivery', $req[0] || {}, $mobile, 'reset');
push @codes, $reset;
($st, undef, undef, $raw) = api_post('/auth/reset-password',
    json => { mobile => $mobile, otp => $reset, new_password => 'second-password-2' });
is($st, 200, 'the delivered reset code resets the password') or diag($raw);
($st) = api_post('/auth/login', json => { mobile => $mobile, password => 'second-password-2' });
is($st, 200, 'login with the new password');

# ---- the gateway answers 500 ---------------------------------------------------------
my $m2 = random_mobile();
api_post('/auth/signup', json => { mobile => $m2 });
receiver_status(500);
($st, $h, $b, $raw) = api_post('/auth/send-otp', json => { mobile => $m2 });
is($st, 502, 'gateway 500: send-otp is 502');
is($b && $b->{error}{code}, 'UPSTREAM_ERROR', 'gateway 500: UPSTREAM_ERROR');
ok($b && !($b->{data} && ref $b->{data} eq 'HASH' && exists $b->{data}{otp}),
   'gateway 500: no code in the answer');
@req = receiver_requests();
is(scalar @req, 1, 'gateway 500: the delivery was attempted');
my $failed_code = $req[0] ? json_decode($req[0]{body})->{otp} : undef;
push @codes, $failed_code if defined $failed_code;
($st, undef, $b) = api_post('/auth/verify-otp', json => { mobile => $m2, otp => $failed_code // '' });
is($st, 400, 'gateway 500: the undelivered code does not log in');

receiver_status(200);
($st, undef, $b, $raw) = api_post('/auth/send-otp', json => { mobile => $m2 });
is($st, 200, 'gateway 500: an immediate retry is not throttled') or diag($raw);
@req = receiver_requests();
is(scalar @req, 1, 'gateway 500: the retry was delivered');
my $retry_code = $req[0] ? json_decode($req[0]{body})->{otp} : undef;
push @codes, $retry_code if defined $retry_code;
($st) = api_post('/auth/verify-otp', json => { mobile => $m2, otp => $retry_code // '' });
is($st, 200, 'gateway 500: the retried code logs in');

# a 4xx from the gateway is a failed delivery too, for reset codes as well
receiver_status(404);
($st, undef, $b) = api_post('/auth/forgot-password', json => { mobile => $m2 });
is($st, 502, 'gateway 404: forgot-password is 502');
is($b && $b->{error}{code}, 'UPSTREAM_ERROR', 'gateway 404: UPSTREAM_ERROR');
push @codes, map { json_decode($_->{body})->{otp} } receiver_requests();
receiver_status(200);
($st) = api_post('/auth/forgot-password', json => { mobile => $m2 });
is($st, 200, 'gateway 404: an immediate retry of forgot-password is 200');
push @codes, map { json_decode($_->{body})->{otp} } receiver_requests();

# ---- the gateway is down ----------------------------------------------------------------
receiver_stop();
my $m3 = random_mobile();
api_post('/auth/signup', json => { mobile => $m3 });
($st, $h, $b, $raw) = api_post('/auth/send-otp', json => { mobile => $m3 });
is($st, 502, 'gateway down: send-otp is 502');
is($b && $b->{error}{code}, 'UPSTREAM_ERROR', 'gateway down: UPSTREAM_ERROR');
receiver_start();
($st, undef, $b, $raw) = api_post('/auth/send-otp', json => { mobile => $m3 });
is($st, 200, 'gateway back: an immediate retry is not throttled') or diag($raw);
@req = receiver_requests();
is(scalar @req, 1, 'gateway back: delivered');
my $c3 = $req[0] ? json_decode($req[0]{body})->{otp} : undef;
push @codes, $c3 if defined $c3;
($st) = api_post('/auth/verify-otp', json => { mobile => $m3, otp => $c3 // '' });
is($st, 200, 'gateway back: the code logs in');

# a successful delivery still throttles the next one (30 s)
($st, $h) = api_post('/auth/send-otp', json => { mobile => $m3 });
is($st, 429, 'after a delivered code, an immediate resend is throttled');
is(scalar(receiver_requests()), 0, 'and nothing is sent to the gateway');

# ---- the default host still returns codes (per-host configuration) ------------------
Apache::TestRequest::module('default');
my $dev = signup_and_login();
like($dev->{otp}, qr/^[0-9]{6}$/, 'the default host returns data.otp (development mode)');
is(scalar(receiver_requests()), 0, 'the default host sends nothing to the gateway');

# ---- the log --------------------------------------------------------------------------
my $log = error_log_since($mark);
my @bodies = map { (my $x = $_) =~ s/^(?:\[[^\]]*\]\s*)+//; $x } split /\n/, $log;
for my $code (grep { defined } @codes) {
    my @hit = grep { /(?<!\d)\Q$code\E(?!\d)/ } @bodies;
    ok(!@hit, "delivered code $code never logged") or diag($hit[0]);
}
ok(index($log, $SECRET) < 0, 'the delivery secret never logged');
ok(scalar(grep { /GC\d{5}: .*deliver/i } @bodies), 'deliveries are logged (without the code)');
