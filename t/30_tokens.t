# Bearer tokens, as API.md's 401 table and its JWT paragraph say: which
# answer each broken, foreign, forged, stale or revoked token gets, what a
# token we issue contains, the 60 s expiry leeway, and that logout and
# password-change revocations outlive Redis (they live in PostgreSQL).
use strict;
use warnings FATAL => 'all';

use Apache::Test qw(-withtestmore);
use Digest::SHA qw(hmac_sha256 hmac_sha512);
use MIME::Base64 qw(encode_base64url decode_base64url);
use GC::Test;

plan tests => 186;

END { clock_reset() }
clock_reset();

my $SECRET = jwt_secret();

# ---- token crafting ------------------------------------------------------------

sub b64u { encode_base64url($_[0]) }    # no padding, as JWS wants

# Header/payload segments from JSON text or a structure (key order kept as
# written when text is given, so a test can shape the JSON exactly).
sub seg { my $v = shift; b64u(ref $v ? json_encode($v) : $v) }

# jwt(HEADER, PAYLOAD, [KEY], [MAC]) -> compact token; MAC is 'sha256'
# (default), 'sha512', 'none' (empty signature) or 'omit' (two segments).
sub jwt {
    my ($header, $payload, $key, $mac) = @_;
    $key //= $SECRET;
    $mac //= 'sha256';
    my $input = seg($header) . '.' . seg($payload);
    return $input if $mac eq 'omit';
    return "$input." if $mac eq 'none';
    my $sig = $mac eq 'sha512' ? hmac_sha512($input, $key) : hmac_sha256($input, $key);
    return "$input." . b64u($sig);
}

my $HS256 = '{"alg":"HS256","typ":"JWT"}';

# The server's clock (the test clock file shifts it).
sub server_now { time() + clock_offset() }

# Claims text for user id and version; fields in our own order. Extra
# key/value pairs replace or add raw JSON fragments.
sub claims_json {
    my (%c) = @_;
    my @order = qw(sub iat exp jti ver);
    my @parts;
    for my $k (@order, sort grep { my $x = $_; !grep { $_ eq $x } @order } keys %c) {
        next unless exists $c{$k} && defined $c{$k};
        push @parts, qq{"$k":$c{$k}};
    }
    return '{' . join(',', @parts) . '}';
}

my $jti_seq = 0;
sub fresh_jti { sprintf('"t30-%d-%d-%d"', $$, time(), ++$jti_seq) }

# A claims set the module would accept for user id/version at the server's now.
sub good_claims {
    my ($uid, $ver, %over) = @_;
    my $now = server_now();
    my %c = (sub => qq{"$uid"}, iat => $now, exp => $now + 3600, jti => fresh_jti(),
             ver => $ver, %over);
    return claims_json(%c);
}

# ---- assertions ----------------------------------------------------------------

# me_is(TOKEN-or-undef, STATUS, CODE, NAME, [headers]): GET /user/me.
sub me_is {
    my ($token, $status, $code, $name, $headers) = @_;
    my ($st, $h, $b, $raw) = api_get('/user/me',
        (defined $token ? (token => $token) : ()), headers => $headers || {});
    my $ok = is($st, $status, "$name: status $status");
    if (defined $code) {
        $ok &= is($b && $b->{error} && $b->{error}{code}, $code, "$name: code $code");
    }
    if ($status == 401) {
        # every 401 tells the client which scheme to use (RFC 6750)
        $ok &= like($h->{'www-authenticate'} // '', qr/^Bearer\b/,
                    "$name: WWW-Authenticate: Bearer");
    }
    diag("answer was: $raw") unless $ok;
    return ($st, $h, $b);
}

# ---- a user and its token ------------------------------------------------------

my $u = signup_and_login();
my $token = $u->{token};
my $uid = $u->{user}{id};
ok(defined $token && length $token, 'signup_and_login gives a token');

# ---- claims of an issued token --------------------------------------------------
{
    my @segs = split /\./, $token, -1;
    is(scalar @segs, 3, 'issued token has three segments');
    unlike($token, qr/[=+\/\s]/, 'issued token is unpadded base64url');
    my $htext = decode_base64url($segs[0]);
    my $ptext = decode_base64url($segs[1]);
    my $hdr = json_decode($htext);
    my $pl = json_decode($ptext);
    is($hdr->{alg}, 'HS256', 'header alg is HS256');
    like($ptext, qr/"sub":"\d+"/, 'sub is a JSON string of digits');
    is($pl->{sub}, "$uid", 'sub is the user id');
    like($ptext, qr/"iat":\d+[,}]/, 'iat is an integer');
    like($ptext, qr/"exp":\d+[,}]/, 'exp is an integer');
    like($ptext, qr/"ver":\d+[,}]/, 'ver is an integer');
    ok(abs($pl->{iat} - server_now()) <= 5, 'iat is now');
    is($pl->{exp} - $pl->{iat}, 86400, 'exp = iat + 86400');
    ok(defined $pl->{jti} && !ref $pl->{jti} && length $pl->{jti}, 'jti is a non-empty string');
    my $mac = b64u(hmac_sha256("$segs[0].$segs[1]", $SECRET));
    is($segs[2], $mac, 'signature is HMAC-SHA256 under the configured secret bytes');

    # a second login gets another jti
    my ($st, undef, $b) = api_post('/auth/send-otp', json => { mobile => $u->{mobile} });
    # the resend throttle may answer 429 within 30 s: move the clock past it
    if ($st == 429) {
        clock_shift(31);
        ($st, undef, $b) = api_post('/auth/send-otp', json => { mobile => $u->{mobile} });
    }
    my ($st2, undef, $b2) = api_post('/auth/verify-otp',
        json => { mobile => $u->{mobile}, otp => $b->{data}{otp} // '' });
    is($st2, 200, 'a second OTP login works');
    my $pl2 = json_decode(decode_base64url((split /\./, $b2->{data}{token} // '..')[1] // ''));
    isnt($pl2 && $pl2->{jti}, $pl->{jti}, 'each token has its own jti');
    clock_reset();
}

# ---- the token works -------------------------------------------------------------
{
    my (undef, undef, $b) = me_is($token, 200, undef, 'valid token');
    is($b->{data}{id}, $uid, 'valid token: /user/me is that user');
}
my $ver = json_decode(decode_base64url((split /\./, $token)[1]))->{ver};

# ---- UNAUTHORIZED: no usable Authorization header ---------------------------------
for my $case (
    [ 'no Authorization header', {} ],
    [ 'Basic scheme',            { Authorization => 'Basic xyz' } ],
    [ '"Bearer" alone',          { Authorization => 'Bearer' } ],
    [ '"Bearer " and blanks',    { Authorization => 'Bearer   ' } ],
) {
    my ($name, $hdrs) = @$case;
    me_is(undef, 401, 'UNAUTHORIZED', $name, $hdrs);
}

# ---- INVALID_TOKEN ------------------------------------------------------------------
my @segs = split /\./, $token;
# A valid token re-spelt in standard base64 ("-_" as "+/"): crafted until its
# signature holds one of those characters, so the spelling really differs.
sub std_b64_variant {
    for (1 .. 1000) {
        my $t = jwt($HS256, good_claims($uid, $ver));
        my ($h, $p, $sig) = split /\./, $t;
        return "$h.$p." . ($sig =~ tr{-_}{+/}r) if $sig =~ /[-_]/;
    }
    die "no signature with - or _ in 1000 tries";
}
my $payload_ok = good_claims($uid, $ver);
my @invalid = (
    [ 'garbage', 'not-a-jwt' ],
    [ 'two segments', "$segs[0].$segs[1]" ],
    [ 'four segments', "$token.$segs[2]" ],
    [ 'padding "=" on the signature', "$token=" ],
    [ 'padding "=" on the payload', "$segs[0].$segs[1]=.$segs[2]" ],
    [ 'standard base64 ("+/") in the signature', std_b64_variant() ],
    [ 'a blank inside the token', "$segs[0]. $segs[1].$segs[2]" ],
    [ 'alg none, unsigned (two segments)',
      jwt('{"alg":"none","typ":"JWT"}', $payload_ok, undef, 'omit') ],
    [ 'alg none, empty signature', jwt('{"alg":"none","typ":"JWT"}', $payload_ok, undef, 'none') ],
    [ 'alg none, signed with the secret', jwt('{"alg":"none","typ":"JWT"}', $payload_ok) ],
    [ 'alg HS512 signed with the secret',
      jwt('{"alg":"HS512","typ":"JWT"}', $payload_ok, undef, 'sha512') ],
    [ 'alg HS512 header, HS256 MAC with the secret', jwt('{"alg":"HS512","typ":"JWT"}', $payload_ok) ],
    [ 'alg RS256 header, HMAC with the secret', jwt('{"alg":"RS256","typ":"JWT"}', $payload_ok) ],
    [ 'no alg in the header', jwt('{"typ":"JWT"}', $payload_ok) ],
    [ 'alg "hs256" (case matters)', jwt('{"alg":"hs256","typ":"JWT"}', $payload_ok) ],
    [ 'another key', jwt($HS256, $payload_ok, 'another-secret-of-at-least-32-bytes-0123') ],
    [ 'the secret plus one byte', jwt($HS256, $payload_ok, "${SECRET}x") ],
    [ 'the secret base64-decoded', jwt($HS256, $payload_ok, decode_base64url($SECRET)) ],
    [ 'tampered payload (sub changed, signature kept)',
      "$segs[0]." . seg(claims_json(%{ { sub => '"' . ($uid + 1) . '"', iat => 1, exp => 1, jti => '"x"', ver => $ver } }))
      . ".$segs[2]" ],
    [ 'tampered payload (same claims re-encoded, signature kept)',
      "$segs[0]." . seg(json_encode(json_decode(decode_base64url($segs[1])))) . ".$segs[2]" ],
    [ 'signature of another token', "$segs[0]." . seg($payload_ok) . ".$segs[2]" ],
    [ 'user id that does not exist', jwt($HS256, good_claims(999_999_999, 0)) ],
    [ 'sub as a number', jwt($HS256, good_claims($uid, $ver, sub => $uid)) ],
    [ 'sub "0"', jwt($HS256, good_claims(0, $ver)) ],
    [ 'sub with a sign', jwt($HS256, good_claims("+$uid", $ver)) ],
    [ 'missing ver', jwt($HS256, good_claims($uid, $ver, ver => undef)) ],
    [ 'ver as a string', jwt($HS256, good_claims($uid, $ver, ver => qq{"$ver"})) ],
    [ 'ver of the future', jwt($HS256, good_claims($uid, $ver + 1)) ],
    [ 'missing jti', jwt($HS256, good_claims($uid, $ver, jti => undef)) ],
    [ 'missing exp', jwt($HS256, good_claims($uid, $ver, exp => undef)) ],
    [ 'payload not an object', jwt($HS256, '[1,2,3]') ],
    [ 'header not JSON', b64u('alg=HS256') . '.' . seg($payload_ok) . '.' . b64u('x' x 32) ],
);
for my $case (@invalid) {
    my ($name, $bad) = @$case;
    me_is($bad, 401, 'INVALID_TOKEN', $name);
}

# A correctly forged token (the test knows the secret) for a real user works:
# it proves the cases above fail for the reason they name, not for the shape
# of tokens this file builds.
{
    my (undef, undef, $b) = me_is(jwt($HS256, good_claims($uid, $ver)), 200, undef,
                                  'a token crafted here with the secret');
    is($b->{data}{id}, $uid, 'crafted token: it is that user');
}

# ---- TOKEN_EXPIRED and the 60 s leeway ---------------------------------------------
{
    my $now = server_now();
    me_is(jwt($HS256, good_claims($uid, $ver, iat => $now - 7200, exp => $now - 20)), 200,
          undef, 'exp 20 s ago: within the 60 s leeway');
    me_is(jwt($HS256, good_claims($uid, $ver, iat => $now - 7200, exp => $now - 120)),
          401, 'TOKEN_EXPIRED', 'exp 120 s ago');
    me_is(jwt($HS256, good_claims($uid, $ver, iat => 1290000000, exp => 1300000000)), 401,
          'TOKEN_EXPIRED', 'exp in 2011');
    # expiry is decided only once the MAC holds: an expired forgery is INVALID_TOKEN
    me_is(jwt($HS256, good_claims($uid, $ver, iat => $now - 7200, exp => $now - 120),
              'another-secret-of-at-least-32-bytes-0123'),
          401, 'INVALID_TOKEN', 'expired token under another key');

    # the issued token through the server's clock: 24 h + 30 s on, still good;
    # 24 h + 90 s on, expired
    clock_shift(86400 + 30);
    me_is($token, 200, undef, 'issued token, clock at exp + 30 s');
    clock_shift(60);
    me_is($token, 401, 'TOKEN_EXPIRED', 'issued token, clock at exp + 90 s');
    clock_reset();
    me_is($token, 200, undef, 'issued token, clock back to now');
}

# ---- logout ---------------------------------------------------------------------------
my $v = signup_and_login(password => 'first-password-1');
my $live = $v->{token};
my ($st, $h, $b) = api_post('/auth/logout', token => $live);
is($st, 200, 'logout: 200');
ok($b && $b->{success} && exists $b->{data} && !defined $b->{data}, 'logout: data null');
me_is($live, 401, 'INVALID_TOKEN', 'logged-out token');
($st) = api_post('/auth/logout', token => $live);
is($st, 401, 'logout with a logged-out token: 401');

# another session of the same user is untouched by that logout
my ($st_l, undef, $b_l) = api_post('/auth/login',
    json => { mobile => $v->{mobile}, password => 'first-password-1' });
is($st_l, 200, 'password login after logout: 200');
my $second = $b_l->{data}{token};
me_is($second, 200, undef, 'another session after logout');

# ---- password change: older versions die ---------------------------------------------
my $old_ver = json_decode(decode_base64url((split /\./, $second)[1]))->{ver};
($st, $h, $b) = api_post('/auth/change-password', token => $second,
    json => { current_password => 'first-password-1', new_password => 'second-password-2' });
is($st, 200, 'change-password: 200');
my $fresh = $b->{data}{token};
ok(defined $fresh, 'change-password returns a fresh token');
my $fresh_ver = $fresh ? json_decode(decode_base64url((split /\./, $fresh)[1]))->{ver} : -1;
cmp_ok($fresh_ver, '>', $old_ver, 'the fresh token carries a higher ver');
me_is($second, 401, 'INVALID_TOKEN', 'token from before the password change');
me_is(jwt($HS256, good_claims($v->{user}{id}, $old_ver)), 401, 'INVALID_TOKEN',
      'well-signed token with the older ver');
me_is($fresh, 200, undef, 'the fresh token');

# ---- durability: revocations and versions survive Redis losing everything --------
redis_cli('FLUSHALL');
me_is($live, 401, 'INVALID_TOKEN', 'after FLUSHALL: logged-out token');
me_is($second, 401, 'INVALID_TOKEN', 'after FLUSHALL: pre-change token');
me_is($fresh, 200, undef, 'after FLUSHALL: current token');

redis_stop();
redis_start();
# a pooled Redis connection may be stale once; /user/me itself needs no Redis
me_is($live, 401, 'INVALID_TOKEN', 'after a Redis restart: logged-out token');
me_is($second, 401, 'INVALID_TOKEN', 'after a Redis restart: pre-change token');
me_is($fresh, 200, undef, 'after a Redis restart: current token');
{
    my $ok = 0;
    for (1 .. 10) { my ($s) = api_get('/ready'); if ($s == 200) { $ok = 1; last }
                    select(undef, undef, undef, 0.2) }
    ok($ok, 'after a Redis restart /ready is 200 again');
}

# ---- a password reset also kills older tokens ---------------------------------------
{
    clock_shift(31);   # past the OTP resend throttle of the earlier logins
    my ($s1, undef, $f) = api_post('/auth/forgot-password', json => { mobile => $v->{mobile} });
    is($s1, 200, 'forgot-password: 200');
    my ($s2) = api_post('/auth/reset-password', json => {
        mobile => $v->{mobile}, otp => $f->{data}{otp} // '', new_password => 'third-password-3' });
    is($s2, 200, 'reset-password: 200');
    me_is($fresh, 401, 'INVALID_TOKEN', 'token from before the reset');
    clock_reset();
}

# ---- a logged-out token stays dead near its expiry ----------------------------------
# The revocation is kept until exp + leeway; within the leeway it still answers
# INVALID_TOKEN, afterwards TOKEN_EXPIRED (either way, refused).
{
    my $w = signup_and_login();
    api_post('/auth/logout', token => $w->{token});
    clock_shift(86400 + 30);
    me_is($w->{token}, 401, 'INVALID_TOKEN', 'logged-out token inside the leeway');
    clock_shift(120);
    me_is($w->{token}, 401, 'TOKEN_EXPIRED', 'logged-out token past the leeway');
    clock_reset();
}
