package GC::Test;
# Helpers so that gemclone's Apache::Test files read like the API spec:
# JSON requests returning (status, headers, body), a logged-in user in one
# call, the test clock, SQL and Redis against the private servers, taking
# those servers down and back up, and reading httpd's error log.
#
# Everything private comes from the GC_TEST_* environment that t/run-suite
# exports; a missing variable dies at once (a test that silently talks to
# the wrong server is worse than one that fails).
use strict;
use warnings;

use Exporter 'import';
use HTTP::Tiny ();
use IO::Socket::INET ();
use IO::Select ();
use JSON::PP ();
use Digest::SHA ();
use File::Spec ();
use Apache::Test ();
use Apache::TestRequest ();
use Time::HiRes ();

our @EXPORT = qw(
    api_request api_get api_post api_patch api_put api_delete api_head
    raw_request base_url json_encode json_decode
    random_mobile signup_and_login auth_header
    clock_shift clock_set clock_reset clock_offset
    psql psql_row redis_cli
    redis_stop redis_start pg_stop pg_start
    error_log_path error_log_mark error_log_since error_log_grep
    jwt_secret
    stripe_call stripe_control stripe_complete stripe_send_event stripe_requests
    stripe_deliveries stripe_webhook_secret sign_webhook
    worker_start worker_stop worker_kill
    gemini_call gemini_control gemini_requests
    login_again new_room post_prompt wait_reply_final wait_until sse_read
);

# UTF-8 bytes both ways: HTTP::Tiny sends and returns bytes, and tests build
# raw bodies with json_encode.
my $JSON = JSON::PP->new->utf8(1)->canonical(1)->allow_nonref(1);

sub json_encode { $JSON->encode($_[0]) }
# Decodes JSON, or returns undef when the text is not JSON (the tests then
# compare against undef and fail with a readable diagnostic).
sub json_decode { my $t = shift; return undef unless defined $t && length $t; my $v = eval { $JSON->decode($t) }; $v }

sub _env {
    my $name = shift;
    my $v = $ENV{$name};
    die "GC::Test: $name is not set; run the suite through t/run-suite\n"
        unless defined $v && length $v;
    return $v;
}

# ---- HTTP ------------------------------------------------------------------

sub base_url {
    my $hp = Apache::TestRequest::hostport(Apache::Test::config());
    return "http://$hp";
}

my $http = HTTP::Tiny->new(timeout => 60, keep_alive => 0, max_redirect => 0,
                           agent => 'gemclone-test/1');

# api_request(METHOD, PATH, %opt) -> (status, headers, body, raw)
#   json => REF      send REF as JSON (Content-Type application/json)
#   body => STRING   send these bytes as is
#   token => JWT     Authorization: Bearer JWT
#   headers => {}    extra request headers (override the above)
# headers come back lower-cased (HTTP::Tiny); body is the decoded JSON or undef.
sub api_request {
    my ($method, $path, %opt) = @_;
    my %h;
    my $content;
    if (exists $opt{json}) {
        $content = json_encode($opt{json});
        $h{'content-type'} = 'application/json';
    }
    $content = $opt{body} if exists $opt{body};
    $h{authorization} = "Bearer $opt{token}" if defined $opt{token};
    %h = (%h, map { lc($_) => $opt{headers}{$_} } keys %{ $opt{headers} || {} });
    my %args = (headers => \%h);
    $args{content} = $content if defined $content;
    my $res = $http->request($method, base_url() . $path, \%args);
    # 599 is HTTP::Tiny's own "could not connect / timed out".
    die "GC::Test: $method $path: $res->{content}\n" if $res->{status} == 599;
    return ($res->{status}, $res->{headers}, json_decode($res->{content}), $res->{content});
}

sub api_get    { api_request('GET',    @_) }
sub api_head   { api_request('HEAD',   @_) }
sub api_post   { api_request('POST',   @_) }
sub api_patch  { api_request('PATCH',  @_) }
sub api_put    { api_request('PUT',    @_) }
sub api_delete { api_request('DELETE', @_) }

# raw_request(BYTES) -> (status, raw response): for requests no client
# library would send (bad request lines, oversize headers, odd methods).
sub raw_request {
    my $bytes = shift;
    my $hp = Apache::TestRequest::hostport(Apache::Test::config());
    my ($host, $port) = split /:/, $hp;
    my $s = IO::Socket::INET->new(PeerAddr => $host, PeerPort => $port, Timeout => 30)
        or die "GC::Test: connect $hp: $!\n";
    print $s $bytes;
    shutdown($s, 1);
    local $/;
    my $resp = <$s> // '';
    close $s;
    my ($status) = $resp =~ m{^HTTP/\d\.\d (\d{3})};
    return ($status // 0, $resp);
}

sub auth_header { return { authorization => "Bearer $_[0]" } }

# ---- users ------------------------------------------------------------------

# A fresh mobile number (matches ^\+?[0-9]{8,15}$): the pid keeps test files
# apart, a counter and a random tail keep calls within one file apart.
my $mobile_seq = 0;
sub random_mobile {
    $mobile_seq++;
    return sprintf('+49%05d%03d%04d', $$ % 100000, $mobile_seq % 1000, int(rand 10000));
}

# signup_and_login(%opt) -> { token, user, mobile, otp }
#   mobile, name, password: passed to signup (mobile defaults to a fresh one)
# Dies with the failing step's answer, so a broken signup shows up as such.
sub signup_and_login {
    my %opt = @_;
    my $mobile = $opt{mobile} // random_mobile();
    my %signup = (mobile => $mobile);
    $signup{name} = $opt{name} if defined $opt{name};
    $signup{password} = $opt{password} if defined $opt{password};

    my ($st, undef, $b, $raw) = api_post('/auth/signup', json => \%signup);
    die "signup_and_login: signup $st: $raw\n" unless $st == 201;
    ($st, undef, $b, $raw) = api_post('/auth/send-otp', json => { mobile => $mobile });
    die "signup_and_login: send-otp $st: $raw\n" unless $st == 200 && defined $b->{data}{otp};
    my $otp = $b->{data}{otp};
    ($st, undef, $b, $raw) = api_post('/auth/verify-otp', json => { mobile => $mobile, otp => $otp });
    die "signup_and_login: verify-otp $st: $raw\n" unless $st == 200;
    return { token => $b->{data}{token}, user => $b->{data}{user}, mobile => $mobile, otp => $otp };
}

sub jwt_secret { _env('GC_TEST_JWT_SECRET') }

# ---- the test clock -----------------------------------------------------------
# The module adds the integer in GC_TEST_CLOCK_FILE to the real clock and
# re-reads it on every request; no file means offset 0.

sub clock_offset {
    my $f = _env('GC_TEST_CLOCK_FILE');
    open my $fh, '<', $f or return 0;
    my $v = <$fh> // 0;
    close $fh;
    chomp $v;
    return $v =~ /^-?\d+$/ ? $v + 0 : 0;
}

# Writes through a temporary file and rename, so a request never reads half
# a number.
sub clock_set {
    my $offset = int(shift);
    my $f = _env('GC_TEST_CLOCK_FILE');
    my $tmp = "$f.tmp.$$";
    open my $fh, '>', $tmp or die "GC::Test: $tmp: $!\n";
    print $fh "$offset\n";
    close $fh or die "GC::Test: $tmp: $!\n";
    chmod 0644, $tmp;
    rename $tmp, $f or die "GC::Test: rename $tmp: $!\n";
    return $offset;
}

# clock_shift(SECONDS): moves the server's clock forward (or back) by SECONDS
# on top of any earlier shift; returns the new total offset.
sub clock_shift { clock_set(clock_offset() + shift) }

sub clock_reset { unlink _env('GC_TEST_CLOCK_FILE'); return 0 }

# ---- the private servers --------------------------------------------------------

# psql(SQL) -> list of rows (fields joined by '|'); dies on an SQL error.
sub psql {
    my $sql = shift;
    my $port = _env('GC_TEST_PG_PORT');
    open my $fh, '-|', 'psql', '-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1',
        '-h', '127.0.0.1', '-p', $port, '-U', 'postgres', '-d', 'gemclone', '-c', $sql
        or die "GC::Test: psql: $!\n";
    my @rows = <$fh>;
    close $fh or die "GC::Test: psql failed (exit " . ($? >> 8) . ") for: $sql\n";
    chomp @rows;
    return wantarray ? @rows : $rows[0];
}

# psql_row(SQL) -> the first row as a list of fields.
sub psql_row { my ($r) = psql(shift); return defined $r ? split(/\|/, $r, -1) : () }

# redis_cli(ARGS...) -> output lines of redis-cli against the private Redis.
sub redis_cli {
    my @args = @_;
    my $port = _env('GC_TEST_REDIS_PORT');
    open my $fh, '-|', 'redis-cli', '-p', $port, @args or die "GC::Test: redis-cli: $!\n";
    my @out = <$fh>;
    close $fh or die "GC::Test: redis-cli @args failed\n";
    chomp @out;
    return wantarray ? @out : $out[0];
}

# Start/stop go through t/servers, which shares scripts/lib with t/run-suite,
# so a server comes back exactly as the suite first started it (same port,
# same data).
sub _servers {
    my @cmd = (File::Spec->catfile(Apache::Test::vars('t_dir'), 'servers'), @_);
    system(@cmd) == 0 or die "GC::Test: @cmd failed\n";
    return 1;
}
sub redis_stop  { _servers('redis-stop') }
sub redis_start { _servers('redis-start') }
sub pg_stop     { _servers('pg-stop') }
sub pg_start    { _servers('pg-start') }

# ---- the error log --------------------------------------------------------------

sub error_log_path { File::Spec->catfile(Apache::Test::vars('t_logs'), 'error_log') }

# error_log_mark() -> a position; error_log_since(POS) -> the text logged after.
sub error_log_mark { return -s error_log_path() || 0 }

sub error_log_since {
    my $pos = shift // 0;
    open my $fh, '<', error_log_path() or return '';
    seek $fh, $pos, 0;
    local $/;
    my $text = <$fh> // '';
    close $fh;
    return $text;
}

# error_log_grep(QR, [POS]) -> matching lines logged after POS.
sub error_log_grep {
    my ($re, $pos) = @_;
    return grep { $_ =~ $re } split /\n/, error_log_since($pos);
}

# ---- the Stripe stand-in ----------------------------------------------------------
# t/run-suite runs tools/stripe-standin on GC_TEST_STRIPE_PORT with the
# webhook secret GC_TEST_STRIPE_WEBHOOK_SECRET; its events are delivered to
# this suite's /webhook/stripe. See tools/README.md for its endpoints.

sub stripe_webhook_secret { _env('GC_TEST_STRIPE_WEBHOOK_SECRET') }

# stripe_call(METHOD, PATH, [REF]) -> (status, decoded body): any call to the
# stand-in, REF sent as JSON.
sub stripe_call {
    my ($method, $path, $ref) = @_;
    my $url = 'http://127.0.0.1:' . _env('GC_TEST_STRIPE_PORT') . $path;
    my %args = (headers => {});
    if (defined $ref) {
        $args{content} = json_encode($ref);
        $args{headers}{'content-type'} = 'application/json';
    }
    my $res = $http->request($method, $url, \%args);
    die "GC::Test: stand-in $method $path: $res->{content}\n" if $res->{status} == 599;
    return ($res->{status}, json_decode($res->{content}));
}

# stripe_control(REF) sets failure injection ({fail => '500', count => 2});
# stripe_control() resets it.
sub stripe_control {
    my $ref = shift;
    my ($st, $b) = defined $ref ? stripe_call('POST', '/__control', $ref)
                                : stripe_call('DELETE', '/__control');
    die "GC::Test: stripe_control: $st\n" unless $st == 200;
    return $b;
}

# stripe_complete(SESSION_ID, %opt) -> {session, customer, subscription,
# invoice, events => [deliveries]}: pays the checkout offline; the stand-in
# delivers checkout.session.completed, customer.subscription.created and
# invoice.paid (opt order => [...], deliver => JSON::PP::false).
sub stripe_complete {
    my ($sid, %opt) = @_;
    my ($st, $b) = stripe_call('POST', '/__complete', { session_id => $sid, %opt });
    die "GC::Test: stripe_complete $sid: $st\n" unless $st == 200;
    return $b;
}

# stripe_send_event(TYPE, OBJECT, %opt) -> {event, delivery}: signs and
# delivers an event; opt: id, created, timestamp, secret, signature, multi,
# deliver (see tools/README.md). delivery->{status} is our answer's status.
sub stripe_send_event {
    my ($type, $object, %opt) = @_;
    my ($st, $b) = stripe_call('POST', '/__send_event', { type => $type, object => $object, %opt });
    die "GC::Test: stripe_send_event $type: $st\n" unless $st == 200;
    return $b;
}

# stripe_requests() -> API calls the stand-in received (newest last);
# stripe_requests('clear') forgets them. Same for stripe_deliveries.
sub stripe_requests {
    return stripe_call('DELETE', '/__requests') if @_ && $_[0] eq 'clear';
    my ($st, $b) = stripe_call('GET', '/__requests');
    return @{ $b || [] };
}
sub stripe_deliveries {
    return stripe_call('DELETE', '/__deliveries') if @_ && $_[0] eq 'clear';
    my ($st, $b) = stripe_call('GET', '/__deliveries');
    return @{ $b || [] };
}

# sign_webhook(BODY, T, [SECRET]) -> a Stripe-Signature value
# "t=T,v1=<hex HMAC-SHA256(SECRET, "T.BODY")>" for hand-made deliveries.
sub sign_webhook {
    my ($body, $t, $secret) = @_;
    $secret //= stripe_webhook_secret();
    return "t=$t,v1=" . Digest::SHA::hmac_sha256_hex("$t.$body", $secret);
}


# ---- the worker and the Gemini stand-in ---------------------------------------------
# t/run-suite runs tools/gemini-standin on GC_TEST_GEMINI_PORT and the worker
# (started through t/servers, log in GC_TEST_STATE/worker.log).

sub worker_start { _servers('worker-start') }
sub worker_stop  { _servers('worker-stop') }    # SIGTERM, waits until gone
sub worker_kill  { _servers('worker-kill') }    # SIGKILL, waits until gone

# gemini_call(METHOD, PATH, [REF]) -> (status, decoded body) from the stand-in.
sub gemini_call {
    my ($method, $path, $ref) = @_;
    my $url = 'http://127.0.0.1:' . _env('GC_TEST_GEMINI_PORT') . $path;
    my %args = (headers => {});
    if (defined $ref) {
        $args{content} = json_encode($ref);
        $args{headers}{'content-type'} = 'application/json';
    }
    my $res = $http->request($method, $url, \%args);
    die "GC::Test: gemini stand-in $method $path: $res->{content}\n" if $res->{status} == 599;
    return ($res->{status}, json_decode($res->{content}));
}

# gemini_control(REF) sets defaults for the next generate calls
# ({stream_error => 503, count => 1}); gemini_control() resets them and the
# [[gc:fail=...]] counters.
sub gemini_control {
    my $ref = shift;
    my ($st, $b) = defined $ref ? gemini_call('POST', '/__control', $ref)
                                : gemini_call('DELETE', '/__control');
    die "GC::Test: gemini_control: $st\n" unless $st == 200;
    return $b;
}

# gemini_requests() -> the generate calls the stand-in received (newest last:
# body, last_user_text, turns, knobs, status ...); gemini_requests('clear').
sub gemini_requests {
    return gemini_call('DELETE', '/__requests') if @_ && $_[0] eq 'clear';
    my ($st, $b) = gemini_call('GET', '/__requests');
    die "GC::Test: gemini_requests: $st\n" unless $st == 200;
    return @{ ref $b eq 'HASH' ? ($b->{requests} || []) : ($b || []) };
}

# ---- chat ----------------------------------------------------------------------------

# login_again(MOBILE) -> a new token for an existing user (after a clock
# shift made the old one expire, or moved past the OTP resend throttle).
sub login_again {
    my $mobile = shift;
    my ($st, undef, $b, $raw) = api_post('/auth/send-otp', json => { mobile => $mobile });
    die "login_again: send-otp $st: $raw\n" unless $st == 200 && defined $b->{data}{otp};
    my $otp = $b->{data}{otp};
    ($st, undef, $b, $raw) = api_post('/auth/verify-otp', json => { mobile => $mobile, otp => $otp });
    die "login_again: verify-otp $st: $raw\n" unless $st == 200;
    return $b->{data}{token};
}

# new_room(TOKEN, [NAME]) -> the created chatroom's id (dies unless 201).
sub new_room {
    my ($token, $name) = @_;
    my ($st, undef, $b, $raw) = api_post('/chatroom', token => $token,
                                         json => defined $name ? { name => $name } : {});
    die "new_room: $st: $raw\n" unless $st == 201;
    return $b->{data}{id};
}

# post_prompt(TOKEN, ROOM, CONTENT, %opt) -> (status, headers, body, raw)
#   async => 1          Prefer: respond-async
#   key => KEY          Idempotency-Key
#   headers => {}       more request headers
sub post_prompt {
    my ($token, $room, $content, %opt) = @_;
    my %h = %{ $opt{headers} || {} };
    $h{Prefer} = 'respond-async' if $opt{async};
    $h{'Idempotency-Key'} = $opt{key} if defined $opt{key};
    return api_post("/chatroom/$room/message", token => $token,
                    json => { content => $content }, headers => \%h);
}

# wait_until(CODE, [SECONDS]) -> CODE's first true value, or undef after
# SECONDS (default 20), polling every 0.1 s.
sub wait_until {
    my ($code, $secs) = @_;
    my $end = Time::HiRes::time() + ($secs // 20);
    while (1) {
        my $v = $code->();
        return $v if $v;
        return undef if Time::HiRes::time() >= $end;
        Time::HiRes::sleep(0.1);
    }
}

# wait_reply_final(TOKEN, ROOM, MESSAGE_ID, [SECONDS]) -> the message once its
# status is no longer pending (polling GET .../messages/:mid, default 20 s),
# or the last pending state seen (the caller's status check then fails).
sub wait_reply_final {
    my ($token, $room, $mid, $secs) = @_;
    my $last;
    wait_until(sub {
        my ($st, undef, $b) = api_get("/chatroom/$room/messages/$mid", token => $token);
        return 0 unless $st == 200;
        $last = $b->{data};
        return $last->{status} ne 'pending';
    }, $secs);
    return $last;
}

# sse_read(TOKEN, ROOM, MESSAGE_ID, %opt) -> {status, head, events, raw, error}
# Reads the event stream through a raw socket, byte by byte as it arrives.
# events: [{at => seconds since the request, event => name, data => decoded,
# comment => text}] in order; a comment (": keep-alive") has no event.
#   timeout => S         give up after S seconds (default 30)
#   stop_after => N      close the socket after N frames (an early disconnect)
#   on_frame => CODE     called with each frame as it arrives
sub sse_read {
    my ($token, $room, $mid, %opt) = @_;
    my $hp = Apache::TestRequest::hostport(Apache::Test::config());
    my ($host, $port) = split /:/, $hp;
    my $s = IO::Socket::INET->new(PeerAddr => $host, PeerPort => $port, Timeout => 10)
        or die "GC::Test: connect $hp: $!\n";
    my $t0 = Time::HiRes::time();
    print $s "GET /chatroom/$room/messages/$mid HTTP/1.1\r\nHost: $hp\r\n"
           . "Authorization: Bearer $token\r\nAccept: text/event-stream\r\n"
           . "Connection: close\r\n\r\n";
    my $end = $t0 + ($opt{timeout} // 30);
    my ($buf, $raw, $head, $chunked, $body, $ended, %res) = ('', '', undef, 0, '', 0);
    $res{events} = [];
    my $sel = IO::Select->new($s);
    READ: while (1) {
        my $left = $end - Time::HiRes::time();
        if ($left <= 0) { $res{error} = 'timeout'; last }
        last unless $sel->can_read($left);
        my $n = sysread($s, my $got, 65536);
        last unless $n;
        $raw .= $got;
        $buf .= $got;
        my $now = Time::HiRes::time() - $t0;
        if (!defined $head) {
            my $i = index($buf, "\r\n\r\n");
            next if $i < 0;
            $head = substr($buf, 0, $i);
            $buf = substr($buf, $i + 4);
            ($res{status}) = $head =~ m{^HTTP/\d\.\d (\d{3})};
            $chunked = $head =~ /^Transfer-Encoding:\s*chunked/mi;
            $res{head} = $head;
        }
        # De-chunk what is complete.
        if ($chunked) {
            while ($buf =~ /^([0-9a-fA-F]+)[^\r\n]*\r\n/) {
                my ($size, $hl) = (hex $1, length($&));
                last if length($buf) < $hl + $size + 2;
                $body .= substr($buf, $hl, $size);
                $buf = substr($buf, $hl + $size + 2);
                if ($size == 0) { $ended = 1; last }
            }
        }
        else {
            $body .= $buf;
            $buf = '';
        }
        # Frames end with a blank line.
        while ($body =~ /\A(.*?)\n\n/s) {
            my $frame = $1;
            $body = substr($body, length($frame) + 2);
            my %ev = (at => $now);
            for my $line (split /\n/, $frame) {
                if ($line =~ /^:\s?(.*)$/) { $ev{comment} = $1 }
                elsif ($line =~ /^event:\s?(.*)$/) { $ev{event} = $1 }
                elsif ($line =~ /^data:\s?(.*)$/) { $ev{data_raw} = $1; $ev{data} = json_decode($1) }
            }
            push @{ $res{events} }, \%ev;
            $opt{on_frame}->(\%ev) if $opt{on_frame};
            last READ if $opt{stop_after} && @{ $res{events} } >= $opt{stop_after};
        }
        last if $ended;
    }
    close $s;
    $res{raw} = $raw;
    $res{rest} = $body;
    return \%res;
}

1;
