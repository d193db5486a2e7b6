# Routing and the response envelope (API.md, "Conventions"): unknown paths,
# wrong methods and Allow, HEAD, trailing slashes, X-Request-Id, the success
# and error envelopes, the JSON content type, and httpd's own errors.
use strict;
use warnings FATAL => 'all';

use Apache::Test qw(-withtestmore);
use GC::Test;

plan tests => 91;

my $JSON_CT     = 'application/json; charset=utf-8';
my $REQ_ID_RE   = qr/^[A-Za-z0-9._:-]{1,128}$/;

# Splits a raw HTTP response into (status, {lower-case headers}, body).
sub parse_raw {
    my $raw = shift;
    my ($head, $body) = split /\r\n\r\n/, $raw, 2;
    my ($status_line, @lines) = split /\r\n/, $head // '';
    my ($status) = ($status_line // '') =~ m{^HTTP/\d\.\d (\d{3})};
    my %h;
    for (@lines) { my ($k, $v) = /^([^:]+):\s*(.*)$/ or next; $h{lc $k} = $v }
    return ($status // 0, \%h, $body // '');
}

# The Allow header as a sorted list of methods.
sub allow_set { return join ',', sort split /\s*,\s*/, ($_[0] // '') }

# ---- the success envelope ---------------------------------------------------
{
    my ($st, $h, $b) = api_get('/health');
    is $st, 200, 'GET /health answers 200';
    is $h->{'content-type'}, $JSON_CT, 'success: Content-Type is application/json; charset=utf-8';
    is_deeply [sort keys %$b], [qw(data message success)],
        'success envelope has exactly success, message and data';
    ok JSON::PP::is_bool($b->{success}) && $b->{success}, 'success envelope: success is JSON true';
    ok defined $b->{message} && !ref $b->{message} && length $b->{message},
        'success envelope: message is a non-empty string';
    like $h->{'x-request-id'} // '', $REQ_ID_RE, 'success: X-Request-Id is present';
}

# ---- unknown paths are 404 NOT_FOUND in the error envelope -------------------------
for my $path ('/no/such/path', '/', '/auth', '/auth/signup/extra', '/healthz', '/user/me/x') {
    my ($st, $h, $b) = api_get($path);
    is $st, 404, "GET $path: 404";
    ok ref $b eq 'HASH' && JSON::PP::is_bool($b->{success}) && !$b->{success}
        && ($b->{error}{code} // '') eq 'NOT_FOUND',
        "GET $path: error envelope with code NOT_FOUND";
}
{
    my ($st, $h, $b) = api_post('/no/such/path', json => {});
    is $st, 404, 'POST to an unknown path: 404 (not 405)';
    is $h->{'content-type'}, $JSON_CT, 'error: Content-Type is application/json; charset=utf-8';
    is_deeply [sort keys %$b], [qw(error message success)],
        'error envelope has exactly success, message and error';
    ok !ref $b->{message} && length $b->{message}, 'error envelope: message is a non-empty string';
    is ref $b->{error}, 'HASH', 'error envelope: error is an object';
    ok !exists $b->{error}{field}, 'error envelope: no field when no field is at fault';
    like $h->{'x-request-id'} // '', $REQ_ID_RE, 'error: X-Request-Id is present';
}

# ---- a known path with a wrong method is 405 with Allow -------------------------------
for my $case (
    [PUT    => '/user/me',      'GET,HEAD'],
    [DELETE => '/user/me',      'GET,HEAD'],
    [POST   => '/user/me',      'GET,HEAD'],
    [GET    => '/auth/login',   'POST'],
    [PATCH  => '/auth/signup',  'POST'],
    [POST   => '/health',       'GET,HEAD'],
) {
    my ($method, $path, $allow) = @$case;
    my ($st, $h, $b) = api_request($method, $path);
    is $st, 405, "$method $path: 405";
    is(($b->{error}{code} // ''), 'METHOD_NOT_ALLOWED', "$method $path: code METHOD_NOT_ALLOWED");
    is allow_set($h->{allow}), $allow, "$method $path: Allow lists exactly $allow";
}
{
    # 405 comes before authentication: no token, still 405 and not 401.
    my ($st) = api_delete('/user/me');
    is $st, 405, 'DELETE /user/me without a token: 405 comes before 401';
    my ($st2, $h2) = api_put('/user/me/');
    is allow_set($h2->{allow}), 'GET,HEAD', 'PUT /user/me/ (trailing slash): same Allow';
}

# ---- HEAD works where GET does -------------------------------------------------------
{
    my ($gst, $gh, undef, $graw) = api_get('/health');
    my ($hst, $hh, undef, $hraw) = api_head('/health');
    is $hst, 200, 'HEAD /health: 200';
    is length($hraw // ''), 0, 'HEAD /health: no body';
    is $hh->{'content-type'}, $gh->{'content-type'}, 'HEAD /health: same Content-Type as GET';
    is $hh->{'content-length'}, $gh->{'content-length'}, 'HEAD /health: same Content-Length as GET';
    like $hh->{'x-request-id'} // '', $REQ_ID_RE, 'HEAD /health: X-Request-Id';

    my $u = signup_and_login(name => 'Head Tester');
    ($gst, $gh, undef, $graw) = api_get('/user/me', token => $u->{token});
    ($hst, $hh, undef, $hraw) = api_head('/user/me', token => $u->{token});
    is $hst, 200, 'HEAD /user/me with a token: 200';
    is length($hraw // ''), 0, 'HEAD /user/me: no body';
    is $hh->{'content-length'}, $gh->{'content-length'}, 'HEAD /user/me: same Content-Length as GET';
    ($hst, $hh, undef, $hraw) = api_head('/user/me');
    is $hst, 401, 'HEAD /user/me without a token: 401 as for GET';
    ($hst, $hh, undef, $hraw) = api_head('/no/such/path');
    is $hst, 404, 'HEAD of an unknown path: 404';
    is length($hraw // ''), 0, 'HEAD of an unknown path: no body';
}

# ---- a trailing slash is ignored --------------------------------------------------------
{
    my ($st, $h, $b) = api_get('/health/');
    is $st, 200, 'GET /health/: 200';
    ok $b && $b->{success}, 'GET /health/: the /health answer';
    my $u = signup_and_login();
    ($st, $h, $b) = api_get('/user/me/', token => $u->{token});
    is $st, 200, 'GET /user/me/: 200';
    is $b->{data}{id}, $u->{user}{id}, 'GET /user/me/: the same user as /user/me';
    ($st, $h, $b) = api_post('/auth/send-otp/', json => { mobile => random_mobile() });
    is $st, 404, 'POST /auth/send-otp/ reaches the handler (USER_NOT_FOUND, not a 404 route miss)';
    is $b->{error}{code}, 'USER_NOT_FOUND', 'POST /auth/send-otp/: code USER_NOT_FOUND';
}

# ---- X-Request-Id: echoed when acceptable, replaced otherwise -------------------------
{
    for my $id ('abc', 'A-Z.a_z:0-9', 'x' x 128, '1') {
        my (undef, $h) = api_get('/health', headers => { 'X-Request-Id' => $id });
        is $h->{'x-request-id'}, $id, 'X-Request-Id ' . (length $id > 20 ? '(128 chars)' : "'$id'") . ' is echoed';
    }
    my (undef, $h) = api_get('/no/such/path', headers => { 'X-Request-Id' => 'err-path.1' });
    is $h->{'x-request-id'}, 'err-path.1', 'X-Request-Id is echoed on an error too';

    for my $bad ('x' x 129, 'has space', 'semi;colon', 'slash/id', 'a,b', '{json}') {
        my (undef, $h) = api_get('/health', headers => { 'X-Request-Id' => $bad });
        my $got = $h->{'x-request-id'} // '';
        ok $got ne $bad && $got =~ $REQ_ID_RE,
            'X-Request-Id ' . (length $bad > 20 ? '(129 chars)' : "'$bad'") . ' is replaced by a well-formed id';
    }
    # The id also appears in the error log, on the lines about that request.
    my $mark = error_log_mark();
    my $rid = 'routing-rid-' . $$ . '-' . int(rand 1e9);
    my ($st) = api_post('/auth/signup', json => { mobile => random_mobile() },
                        headers => { 'X-Request-Id' => $rid });
    is $st, 201, 'a signup carrying a client request id: 201';
    ok scalar(error_log_grep(qr/\Q$rid\E/, $mark)), 'the client request id appears in the error log';

    my (undef, $h1) = api_get('/health');
    my (undef, $h2) = api_get('/health');
    isnt $h1->{'x-request-id'}, $h2->{'x-request-id'}, 'generated request ids differ between requests';
}

# ---- errors httpd produces itself carry the JSON error body ----------------------------
{
    my ($st, $h, $body) = parse_raw((raw_request("THIS IS NOT HTTP\r\n\r\n"))[1]);
    is $st, 400, 'a malformed request line: 400 from httpd';
    my $b = json_decode($body);
    ok ref $b eq 'HASH' && JSON::PP::is_bool($b->{success}) && !$b->{success}
        && defined $b->{error}{code} && defined $b->{message},
        'a malformed request line: the body is the JSON error envelope';
    like $h->{'x-request-id'} // '', $REQ_ID_RE, 'a malformed request line: X-Request-Id is present';

    ($st, $h, $body) = parse_raw((raw_request(
        "GET /user%2fme HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"))[1]);
    is $st, 404, 'an encoded slash (%2f) in the path: 404';
    $b = json_decode($body);
    is ref $b eq 'HASH' ? $b->{error}{code} : undef, 'NOT_FOUND',
        '%2f: the body is the JSON error envelope with NOT_FOUND';
    like $h->{'x-request-id'} // '', $REQ_ID_RE, '%2f: X-Request-Id is present';

    ($st, $h, $body) = parse_raw((raw_request(
        "GET /health HTTP/1.1\r\nHost: localhost\r\nX-Big: " . ('a' x 10000)
        . "\r\nConnection: close\r\n\r\n"))[1]);
    is $st, 400, 'an oversize header line: 400 from httpd';
    $b = json_decode($body);
    ok ref $b eq 'HASH' && !$b->{success} && defined $b->{error}{code},
        'an oversize header line: the body is the JSON error envelope';
    like $h->{'x-request-id'} // '', $REQ_ID_RE, 'an oversize header line: X-Request-Id is present';

    ($st, $h, $body) = parse_raw((raw_request(
        "TRACE /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"))[1]);
    is $st, 405, 'TRACE is refused with 405';
    unlike $body, qr/^TRACE /m, 'TRACE does not echo the request';
    $b = json_decode($body);
    is ref $b eq 'HASH' ? $b->{error}{code} : undef, 'METHOD_NOT_ALLOWED',
        'TRACE: the body is the JSON error envelope with METHOD_NOT_ALLOWED';
    like $h->{'x-request-id'} // '', $REQ_ID_RE, 'TRACE: X-Request-Id is present';

    ($st, $h, $body) = parse_raw((raw_request(
        "BREW /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"))[1]);
    ok $st == 405 || $st == 501, "an unknown method: refused (405 or 501, got $st)";
    $b = json_decode($body);
    ok ref $b eq 'HASH' && !$b->{success} && defined $b->{error}{code},
        'an unknown method: the body is the JSON error envelope';
}
