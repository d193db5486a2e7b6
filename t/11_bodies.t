# Request bodies (API.md, "Conventions"), driven through POST /auth/signup:
# the media type, empty and non-object bodies, unparseable JSON, the size
# limit, UTF-8, NUL, field types, unknown fields — and that a rejected
# request changes nothing.
use strict;
use warnings FATAL => 'all';

use Apache::Test qw(-withtestmore);
use GC::Test;

plan tests => 103;

# The suite's extra.conf.in sets no GemCloneMaxBodySize: the default applies.
my $LIMIT = 1024 * 1024;

# Every mobile a rejected request carried: none of them may end up stored.
my @rejected;
my $users_before = psql('SELECT count(*) FROM users');
my $accepted = 0;    # signups this file expects to succeed
sub fresh { my $m = random_mobile(); push @rejected, $m; return $m }

# Splits a raw HTTP response into (status, {lower-case headers}, decoded body).
sub parse_raw {
    my $raw = shift;
    my ($head, $body) = split /\r\n\r\n/, $raw, 2;
    my ($status_line, @lines) = split /\r\n/, $head // '';
    my ($status) = ($status_line // '') =~ m{^HTTP/\d\.\d (\d{3})};
    my %h;
    for (@lines) { my ($k, $v) = /^([^:]+):\s*(.*)$/ or next; $h{lc $k} = $v }
    return ($status // 0, \%h, json_decode($body));
}

# A raw POST with exactly these headers (plus Host, Content-Length, close).
sub raw_post {
    my ($path, $body, @headers) = @_;
    my $req = "POST $path HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
        . join('', map { "$_\r\n" } @headers)
        . 'Content-Length: ' . length($body) . "\r\n\r\n" . $body;
    return parse_raw((raw_request($req))[1]);
}

# signup(BYTES, [CONTENT-TYPE]) -> (status, body): BYTES sent as they are.
sub signup {
    my ($bytes, $ct) = @_;
    my ($st, undef, $b) = api_post('/auth/signup', body => $bytes,
        headers => { 'Content-Type' => $ct // 'application/json' });
    return ($st, $b);
}

sub code_of  { my $b = shift; return ref $b eq 'HASH' && ref $b->{error} eq 'HASH' ? $b->{error}{code} // '' : '' }
sub field_of { my $b = shift; return ref $b eq 'HASH' && ref $b->{error} eq 'HASH' ? $b->{error}{field} // '' : '' }

# ---- the media type -----------------------------------------------------------------
{
    my $m = fresh();
    my ($st, $h, $b) = raw_post('/auth/signup', qq({"mobile":"$m"}));
    is $st, 415, 'a body without Content-Type: 415';
    is code_of($b), 'UNSUPPORTED_MEDIA_TYPE', 'no Content-Type: code UNSUPPORTED_MEDIA_TYPE';
    is $h->{'content-type'}, 'application/json; charset=utf-8', '415 is answered as JSON';

    for my $ct ('text/plain', 'application/x-www-form-urlencoded', 'application/octet-stream',
                'application/jsonx', 'application/json-patch+json', 'text/json') {
        $m = fresh();
        ($st, $b) = signup(qq({"mobile":"$m"}), $ct);
        is $st, 415, "Content-Type $ct: 415";
        is code_of($b), 'UNSUPPORTED_MEDIA_TYPE', "Content-Type $ct: code UNSUPPORTED_MEDIA_TYPE";
    }

    for my $ct ('application/json; charset=utf-8', 'Application/JSON', 'application/json;charset=UTF-8') {
        $m = random_mobile();
        ($st, $b) = signup(qq({"mobile":"$m"}), $ct);
        is $st, 201, "Content-Type $ct: accepted (201)";
        $accepted++;
    }

    # Order of checks: the token (401) is looked at before the body (415).
    ($st, undef, $b) = api_post('/auth/logout', body => 'x', headers => { 'Content-Type' => 'text/plain' });
    is $st, 401, 'a protected route with a bad body and no token: 401 comes before 415';
}

# ---- an empty body counts as {} --------------------------------------------------------
{
    my ($st, $b) = signup('', 'application/json');
    is $st, 400, 'an empty JSON body: 400';
    is code_of($b), 'VALIDATION_ERROR', 'an empty body is {}: VALIDATION_ERROR';
    is field_of($b), 'mobile', 'an empty body is {}: field mobile (required)';

    my $h;
    ($st, $h, $b) = raw_post('/auth/signup', '');
    is $st, 400, 'no body and no Content-Type: 400 (not 415)';
    is field_of($b), 'mobile', 'no body and no Content-Type: VALIDATION_ERROR field mobile';

    ($st, $b) = signup('{}');
    is field_of($b), 'mobile', '{}: VALIDATION_ERROR field mobile';
}

# ---- unparseable JSON is INVALID_JSON -----------------------------------------------------
for my $case (
    ['truncated object',       sub { qq({"mobile":"$_[0]") }],
    ['NaN',                    sub { qq({"mobile":"$_[0]","n":NaN}) }],
    ['Infinity',               sub { qq({"mobile":"$_[0]","n":Infinity}) }],
    ['-Infinity',              sub { qq({"mobile":"$_[0]","n":-Infinity}) }],
    ['trailing garbage',       sub { qq({"mobile":"$_[0]"} x) }],
    ['two objects',            sub { qq({"mobile":"$_[0]"}{}) }],
    ['single quotes',          sub { qq({'mobile':'$_[0]'}) }],
    ['a trailing comma',       sub { qq({"mobile":"$_[0]",}) }],
    ['a comment',              sub { qq({"mobile":"$_[0]"} // hi) }],
    ['invalid UTF-8 bytes',    sub { qq({"mobile":"$_[0]","name":"caf\xc3\x28\xff\xfe"}) }],
    ['overlong UTF-8',         sub { qq({"mobile":"$_[0]","name":"\xc0\xaf"}) }],
    ['a lone high surrogate',  sub { qq({"mobile":"$_[0]","name":"a\\ud800b"}) }],
    ['a lone low surrogate',   sub { qq({"mobile":"$_[0]","name":"\\udc00"}) }],
    ['an encoded surrogate',   sub { qq({"mobile":"$_[0]","name":"\xed\xa0\x80"}) }],
) {
    my ($what, $make) = @$case;
    my ($st, $b) = signup($make->(fresh()));
    is $st, 400, "$what: 400";
    is code_of($b), 'INVALID_JSON', "$what: code INVALID_JSON";
}

# ---- valid JSON that is not an object is VALIDATION_ERROR --------------------------------
for my $doc ('[]', qq(["mobile","+4912345678"]), '42', '"+4912345678"', 'true', 'null') {
    my ($st, $b) = signup($doc);
    is $st, 400, "body $doc: 400";
    is code_of($b), 'VALIDATION_ERROR', "body $doc: VALIDATION_ERROR, not INVALID_JSON";
}

# ---- the body limit ---------------------------------------------------------------------
{
    # Exactly at the limit: accepted.
    my $m = random_mobile();
    my $head = qq({"mobile":"$m","pad":");
    my $doc = $head . ('x' x ($LIMIT - length($head) - 2)) . '"}';
    is length($doc), $LIMIT, 'the at-limit document is exactly the limit long';
    my ($st, $b) = signup($doc);
    is $st, 201, 'a body of exactly the limit is accepted (201)';
    $accepted++;

    # One byte over: 413, and the client reads the JSON answer.
    $m = fresh();
    $head = qq({"mobile":"$m","pad":");
    $doc = $head . ('x' x ($LIMIT - length($head) - 1)) . '"}';
    ($st, $b) = signup($doc);
    is $st, 413, 'one byte over the limit: 413';
    is code_of($b), 'PAYLOAD_TOO_LARGE', 'over the limit: the client reads PAYLOAD_TOO_LARGE';

    # Far over (4 MiB), chunked, with no Content-Length to look at first.
    $m = fresh();
    my $chunk = 'x' x 65536;
    my $req = "POST /auth/signup HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
        . "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
    my $first = qq({"mobile":"$m","pad":");
    $req .= sprintf("%x\r\n%s\r\n", length $first, $first);
    $req .= sprintf("%x\r\n%s\r\n", length $chunk, $chunk) for 1 .. 64;
    $req .= "2\r\n\"}\r\n0\r\n\r\n";
    my ($rst, $rh, $rb) = parse_raw((raw_request($req))[1]);
    is $rst, 413, 'a 4 MiB chunked body: 413';
    is code_of($rb), 'PAYLOAD_TOO_LARGE', 'a 4 MiB chunked body: PAYLOAD_TOO_LARGE in JSON';

    # A small chunked body is read like any other.
    $m = random_mobile();
    my $small = qq({"mobile":"$m"});
    $req = "POST /auth/signup HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
        . "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        . sprintf("%x\r\n%s\r\n0\r\n\r\n", length $small, $small);
    ($rst) = parse_raw((raw_request($req))[1]);
    is $rst, 201, 'a small chunked JSON body is accepted (201)';
    $accepted++;
}

# ---- NUL inside a string is VALIDATION_ERROR with its field ---------------------------------
for my $case (
    [name     => sub { qq({"mobile":"$_[0]","name":"Al\\u0000ice"}) }],
    [password => sub { qq({"mobile":"$_[0]","password":"secret\\u0000pass"}) }],
    [mobile   => sub { qq({"mobile":"$_[0]\\u0000"}) }],
) {
    my ($field, $make) = @$case;
    my ($st, $b) = signup($make->(fresh()));
    is $st, 400, "\\u0000 in $field: 400";
    is code_of($b), 'VALIDATION_ERROR', "\\u0000 in $field: VALIDATION_ERROR";
    is field_of($b), $field, "\\u0000 in $field: field $field";
}

# ---- wrong types are VALIDATION_ERROR with the field ---------------------------------------
for my $case (
    ['mobile as a number',  mobile   => sub { { mobile => 4912345678 } }],
    ['mobile as null',      mobile   => sub { { mobile => undef } }],
    ['mobile as an object', mobile   => sub { { mobile => { n => $_[0] } } }],
    ['name as an array',    name     => sub { { mobile => $_[0], name => ['Alice'] } }],
    ['name as a number',    name     => sub { { mobile => $_[0], name => 7 } }],
    ['name as a boolean',   name     => sub { { mobile => $_[0], name => JSON::PP::true() } }],
    ['password as a number', password => sub { { mobile => $_[0], password => 12345678 } }],
) {
    my ($what, $field, $make) = @$case;
    my ($st, undef, $b) = api_post('/auth/signup', json => $make->(fresh()));
    is $st, 400, "$what: 400";
    ok code_of($b) eq 'VALIDATION_ERROR' && field_of($b) eq $field,
        "$what: VALIDATION_ERROR with field $field";
}

# ---- unknown fields are ignored -------------------------------------------------------------
{
    my $m = random_mobile();
    my ($st, undef, $b) = api_post('/auth/signup', json => {
        mobile => $m, name => 'Extra', tier => 'pro', id => 1, is_admin => JSON::PP::true(),
        has_password => JSON::PP::true(), created_at => '2000-01-01T00:00:00Z', nested => { a => [1] } });
    is $st, 201, 'unknown fields are ignored: 201';
    $accepted++;
    is $b->{data}{tier}, 'basic', 'a client-sent tier is ignored: tier stays basic';
    ok !$b->{data}{has_password}, 'a client-sent has_password is ignored';
    isnt $b->{data}{created_at}, '2000-01-01T00:00:00Z', 'a client-sent created_at is ignored';
    my (undef, undef, $o) = api_post('/auth/send-otp', json => { mobile => $m });
    my (undef, undef, $v) = api_post('/auth/verify-otp', json => { mobile => $m, otp => $o->{data}{otp} // '' });
    my (undef, undef, $me) = api_get('/user/me', token => $v->{data}{token} // 'none');
    is $me->{data}{tier}, 'basic', 'GET /user/me later: still basic';
}

# ---- no rejected request changed anything ---------------------------------------------------------
{
    my $list = join ',', map { "'$_'" } @rejected;
    my $n = psql("SELECT count(*) FROM users WHERE mobile IN ($list)");
    ok @rejected > 30, 'many rejected requests were made (' . scalar(@rejected) . ')';
    is $n, 0, 'no rejected request created a user';
    is psql('SELECT count(*) FROM users'), $users_before + $accepted,
        "the users table grew by exactly the $accepted accepted signups";
}
