# One-time codes (API.md, "Auth"): send-otp and verify-otp, the resend
# throttle, expiry, single use (also under concurrent verification), the
# five-guess limit, login and reset codes kept apart, and keyed-hash storage.
# The clock is shifted, never slept through.
use strict;
use warnings FATAL => 'all';

use Apache::Test qw(-withtestmore);
use GC::Test;
use Digest::SHA qw(sha256_hex sha1_hex hmac_sha256_hex);
use Digest::MD5 qw(md5_hex);
use MIME::Base64 qw(decode_base64);
use POSIX ();

plan tests => 86;

sub code_of  { my $b = shift; return ref $b eq 'HASH' && ref $b->{error} eq 'HASH' ? $b->{error}{code} // '' : '' }
sub field_of { my $b = shift; return ref $b eq 'HASH' && ref $b->{error} eq 'HASH' ? $b->{error}{field} // '' : '' }

# A fresh user: { mobile, id, user }.
sub new_user {
    my %opt = @_;
    my $m = random_mobile();
    my ($st, undef, $b, $raw) = api_post('/auth/signup', json => { mobile => $m, %opt });
    die "signup failed: $st $raw\n" unless $st == 201;
    return { mobile => $m, id => $b->{data}{id}, user => $b->{data} };
}
sub send_otp   { my ($st, $h, $b) = api_post('/auth/send-otp', json => {@_}); return ($st, $h, $b) }
sub forgot     { my ($st, $h, $b) = api_post('/auth/forgot-password', json => {@_}); return ($st, $h, $b) }
sub verify     { my ($st, $h, $b) = api_post('/auth/verify-otp', json => {@_}); return ($st, $h, $b) }
sub otp_for    { my ($st, undef, $b) = send_otp(mobile => $_[0]{mobile}); die "send-otp $st\n" unless $st == 200; return $b->{data}{otp} }
# A six-digit code that is certainly not $code.
sub wrong_code { my $c = shift; return sprintf('%06d', ($c + 1 + int(rand 999_998)) % 1_000_000) }
sub failures   { return psql("SELECT count(*) FROM auth_failures WHERE user_id = $_[0]{id}") }

clock_reset();

# ---- send-otp ----------------------------------------------------------------------------------
{
    my $u = new_user();
    my ($st, $h, $b) = send_otp(mobile => $u->{mobile});
    is $st, 200, 'send-otp: 200';
    is_deeply [sort keys %{ $b->{data} }], [qw(expires_in otp)], 'send-otp: data is {otp, expires_in}';
    like $b->{data}{otp} // '', qr/^[0-9]{6}$/, 'the otp is six digits';
    like json_encode($b->{data}{otp}), qr/^"/, 'the otp is a JSON string (leading zeros survive)';
    is $b->{data}{expires_in}, 300, 'expires_in is 300';
    unlike json_encode($b->{data}{expires_in}), qr/"/, 'expires_in is a JSON number';

    ($st, $h, $b) = send_otp(mobile => random_mobile());
    is $st, 404, 'send-otp for an unknown mobile: 404';
    is code_of($b), 'USER_NOT_FOUND', 'send-otp for an unknown mobile: USER_NOT_FOUND';
    ($st, $h, $b) = send_otp(mobile => '12ab');
    ok $st == 400 && code_of($b) eq 'VALIDATION_ERROR' && field_of($b) eq 'mobile',
        'send-otp with a malformed mobile: 400 field mobile';
    ($st, $h, $b) = send_otp();
    ok $st == 400 && field_of($b) eq 'mobile', 'send-otp without a mobile: 400 field mobile';

    my $v = new_user();
    (my $spelled = $v->{mobile}) =~ s/^(\+\d\d)(\d{4})/$1 $2-/;
    ($st, $h, $b) = send_otp(mobileNumber => $spelled);
    is $st, 200, "send-otp through the mobileNumber alias, spelled '$spelled': 200";
    ($st, $h, $b) = verify(mobile_number => $v->{mobile}, otp => $b->{data}{otp});
    is $st, 200, 'that code verifies for the normalised number';

    my @codes = map { otp_for(new_user()) } 1 .. 20;
    my %distinct = map { $_ => 1 } @codes;
    ok keys(%distinct) >= 18, 'twenty users get (nearly) twenty different codes';
}

# ---- the resend throttle --------------------------------------------------------------------------
{
    my $u = new_user();
    my $first = otp_for($u);
    my ($st, $h, $b) = send_otp(mobile => $u->{mobile});
    is $st, 429, 'a resend within 30 s: 429';
    is code_of($b), 'OTP_THROTTLED', 'a resend within 30 s: OTP_THROTTLED';
    my $ra = $h->{'retry-after'};
    ok defined $ra && $ra =~ /^\d+$/ && $ra >= 1 && $ra <= 30, "Retry-After is 1..30 s (got " . ($ra // 'none') . ')';

    clock_shift(20);
    ($st, $h, $b) = send_otp(mobile => $u->{mobile});
    is $st, 429, '20 s later: still 429';
    $ra = $h->{'retry-after'} // 99;
    ok $ra >= 1 && $ra <= 10, "20 s later: Retry-After counts down to at most 10 (got $ra)";

    ($st) = forgot(mobile => $u->{mobile});
    is $st, 200, 'the throttle is per purpose: forgot-password is not throttled by send-otp';

    clock_shift(11);
    ($st, $h, $b) = send_otp(mobile => $u->{mobile});
    is $st, 200, '31 s after the first send: a new code';
    my $second = $b->{data}{otp};
    ($st, $h, $b) = verify(mobile => $u->{mobile}, otp => $first);
    if ($first ne $second) {
        ok $st == 400 && code_of($b) eq 'INVALID_OTP', 'the replaced code is now INVALID_OTP';
    }
    else {
        is $st, 200, 'the new code happens to equal the old one and verifies';
    }
    ($st) = verify(mobile => $u->{mobile}, otp => $second);
    is $st, 200, 'the new code verifies' if $first ne $second;
    ok 1, 'the new code was already used above' if $first eq $second;

    clock_reset();
}

# ---- verify-otp: the happy path and single use ----------------------------------------------------------
{
    my $u = new_user(name => 'Otp User');
    my $code = otp_for($u);
    my ($st, $h, $b) = verify(mobile => $u->{mobile}, otp => $code);
    is $st, 200, 'verify-otp: 200';
    my $d = $b->{data};
    is_deeply [sort keys %$d], [qw(expires_in token token_type user)],
        'verify-otp: data is {token, token_type, expires_in, user}';
    is $d->{token_type}, 'Bearer', 'token_type is Bearer';
    is $d->{expires_in}, 86400, 'expires_in is the default 24 h';
    like $d->{token} // '', qr/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/, 'the token is a JWT';
    is_deeply $d->{user}, $u->{user}, 'data.user is the signed-up user';
    my ($payload) = ($d->{token} // '') =~ /^[^.]+\.([^.]+)\./;
    $payload =~ tr/-_/+\//;
    my $claims = json_decode(decode_base64($payload . '=' x ((4 - length($payload) % 4) % 4))) // {};
    is $claims->{sub}, "$u->{id}", 'the token is for this user (sub)';
    my ($mst, undef, $me) = api_get('/user/me', token => $d->{token});
    ok $mst == 200 && $me->{data}{id} == $u->{id}, 'the token opens /user/me';

    ($st, $h, $b) = verify(mobile => $u->{mobile}, otp => $code);
    is $st, 400, 'the same code a second time: 400';
    is code_of($b), 'INVALID_OTP', 'the same code a second time: INVALID_OTP (single use)';
}

# ---- malformed codes are VALIDATION_ERROR and cost nothing ----------------------------------------------
{
    my $u = new_user();
    my $code = otp_for($u);
    for my $case (
        ['five digits',        { otp => '12345' }],
        ['seven digits',       { otp => '1234567' }],
        ['a letter',           { otp => '12345a' }],
        ['a leading space',    { otp => ' 123456' }],
        ['an empty string',    { otp => '' }],
        ['full-width digits',  { otp => "\x{ff11}\x{ff12}\x{ff13}\x{ff14}\x{ff15}\x{ff16}" }],
        # (numify a copy: numifying $code itself could make it encode as a number later)
        ['a JSON number',      { otp => do { my $c = $code; 0 + $c } }],
        ['null',               { otp => undef }],
        ['an array',           { otp => [$code] }],
        ['no otp at all',      {}],
    ) {
        my ($what, $extra) = @$case;
        my $body = { mobile => $u->{mobile}, %$extra };
        my ($st, undef, $b) = $what eq 'full-width digits'
            ? api_post('/auth/verify-otp', body => JSON::PP->new->utf8->encode($body),
                       headers => { 'Content-Type' => 'application/json' })
            : api_post('/auth/verify-otp', json => $body);
        ok $st == 400 && code_of($b) eq 'VALIDATION_ERROR' && field_of($b) eq 'otp',
            "otp as $what: 400 VALIDATION_ERROR field otp";
    }
    is failures($u), 0, 'malformed codes are not counted as failures';
    my ($st) = verify(mobile => $u->{mobile}, otp_code => $code);
    is $st, 200, 'after ten malformed tries the code still verifies, through the otp_code alias';

    my $v = new_user();
    $code = otp_for($v);
    my ($st2, undef, $b2) = verify(mobile => $v->{mobile}, otp => wrong_code($code), otp_code => $code);
    is code_of($b2), 'INVALID_OTP', 'otp and otp_code both sent: otp wins (a wrong otp fails)';
    ($st2) = verify(mobile => $v->{mobile}, otp => $code, otp_code => 'garbage');
    is $st2, 200, 'otp and otp_code both sent: otp wins (a right otp passes)';
}

# ---- unknown mobiles and absent codes ----------------------------------------------------------------
{
    my ($st, undef, $b) = verify(mobile => random_mobile(), otp => '123456');
    is $st, 400, 'verify-otp for an unknown mobile: 400';
    is code_of($b), 'INVALID_OTP', 'verify-otp for an unknown mobile: INVALID_OTP (not USER_NOT_FOUND)';

    my $u = new_user();
    ($st, undef, $b) = verify(mobile => $u->{mobile}, otp => '123456');
    ok $st == 400 && code_of($b) eq 'INVALID_OTP', 'verify-otp with no code ever sent: INVALID_OTP';
    ($st, undef, $b) = verify(mobile => 'abc', otp => '123456');
    ok $st == 400 && field_of($b) eq 'mobile', 'verify-otp with a malformed mobile: field mobile';
}

# ---- expiry ------------------------------------------------------------------------------------------
{
    my $u = new_user();
    my $code = otp_for($u);
    clock_shift(290);
    my ($st) = verify(mobile => $u->{mobile}, otp => $code);
    is $st, 200, 'a code 290 s old still verifies';
    clock_reset();

    my $v = new_user();
    $code = otp_for($v);
    clock_shift(301);
    my ($st2, undef, $b) = verify(mobile => $v->{mobile}, otp => $code);
    is $st2, 400, 'a code 301 s old: 400';
    is code_of($b), 'OTP_EXPIRED', 'a code 301 s old: OTP_EXPIRED';
    is field_of($b), 'otp', 'OTP_EXPIRED names field otp';
    my $fresh = otp_for($v);
    ($st2) = verify(mobile => $v->{mobile}, otp => $fresh);
    is $st2, 200, 'after expiry a new code can be requested and verifies';
    clock_reset();
}

# ---- five wrong guesses void the code --------------------------------------------------------------------
{
    my $u = new_user();
    my $code = otp_for($u);
    for my $n (1 .. 5) {
        my ($st, undef, $b) = verify(mobile => $u->{mobile}, otp => wrong_code($code));
        ok $st == 400 && code_of($b) eq 'INVALID_OTP', "wrong guess $n: 400 INVALID_OTP";
    }
    is failures($u), 5, 'each wrong guess counts as a failure of the account';
    my ($st, $h, $b) = verify(mobile => $u->{mobile}, otp => $code);
    is $st, 429, 'the sixth attempt, with the right code: 429';
    is code_of($b), 'TOO_MANY_ATTEMPTS', 'the sixth attempt: TOO_MANY_ATTEMPTS';
    my $ra = $h->{'retry-after'};
    ok defined $ra && $ra =~ /^\d+$/ && $ra <= 30,
        'Retry-After = seconds until a new code may be requested (0..30, got ' . ($ra // 'none') . ')';
    ($st, $h, $b) = verify(mobile => $u->{mobile}, otp => wrong_code($code));
    is code_of($b), 'TOO_MANY_ATTEMPTS', 'a seventh attempt: still TOO_MANY_ATTEMPTS';
    is failures($u), 5, 'attempts at a void code are not counted again';

    clock_shift(31);
    my $new = otp_for($u);
    ($st) = verify(mobile => $u->{mobile}, otp => $new);
    is $st, 200, 'a new code (31 s later) verifies';
    clock_reset();
}

# ---- login and reset codes are never interchangeable --------------------------------------------------------
{
    my $u = new_user(password => 'original password');
    my $login = otp_for($u);
    my ($st, undef, $b) = forgot(mobile => $u->{mobile});
    is $st, 200, 'forgot-password right after send-otp: 200';
    is_deeply [sort keys %{ $b->{data} }], [qw(expires_in otp)], 'forgot-password: data is {otp, expires_in}';
    my $reset = $b->{data}{otp};
    like $reset // '', qr/^[0-9]{6}$/, 'the reset code is six digits';
    SKIP_EQUAL: {
        # One chance in a million the two codes coincide; then nothing can be told apart.
        if ($login eq $reset) { ok 1, 'codes coincide: no cross-check possible' for 1 .. 4; last SKIP_EQUAL }
        ($st, undef, $b) = verify(mobile => $u->{mobile}, otp => $reset);
        ok $st == 400 && code_of($b) eq 'INVALID_OTP', 'a reset code does not work on verify-otp';
        ($st, undef, $b) = api_post('/auth/reset-password',
            json => { mobile => $u->{mobile}, otp => $login, new_password => 'brand new password' });
        ok $st == 400 && code_of($b) eq 'INVALID_OTP', 'a login code does not work on reset-password';
        ($st) = api_post('/auth/login', json => { mobile => $u->{mobile}, password => 'original password' });
        is $st, 200, 'the failed reset did not change the password';
        ($st) = verify(mobile => $u->{mobile}, otp => $login);
        is $st, 200, 'the login code still works where it belongs';
    }
    ($st) = api_post('/auth/reset-password',
        json => { mobile => $u->{mobile}, otp => $reset, new_password => 'brand new password' });
    is $st, 200, 'the reset code still works where it belongs';

    my $v = new_user();
    ($st, undef, $b) = forgot(mobile => $v->{mobile});
    my $only_reset = $b->{data}{otp};
    ($st, undef, $b) = verify(mobile => $v->{mobile}, otp => $only_reset);
    ok $st == 400 && code_of($b) eq 'INVALID_OTP', 'with only a reset code outstanding, verify-otp fails';
    ($st, undef, $b) = forgot(mobile => random_mobile());
    ok $st == 404 && code_of($b) eq 'USER_NOT_FOUND', 'forgot-password for an unknown mobile: 404 USER_NOT_FOUND';
}

# ---- one code, many concurrent verifications: exactly one wins -----------------------------------------------
for my $round (1 .. 2) {
    my $u = new_user();
    my $code = otp_for($u);
    my $n = 8;
    pipe(my $gate_r, my $gate_w) or die "pipe: $!";
    my @kids;
    for my $i (1 .. $n) {
        pipe(my $res_r, my $res_w) or die "pipe: $!";
        my $pid = fork // die "fork: $!";
        if ($pid == 0) {
            close $gate_w;
            close $res_r;
            sysread($gate_r, my $x, 1);    # blocks until the parent opens the gate
            my ($st, undef, $b) = eval { verify(mobile => $u->{mobile}, otp => $code) };
            syswrite $res_w, ($st // 0) . ' ' . (code_of($b) || '-') . "\n";
            POSIX::_exit(0);
        }
        close $res_w;
        push @kids, [$pid, $res_r];
    }
    close $gate_r;
    close $gate_w;    # every child's read returns at once
    my @results;
    for my $k (@kids) {
        my $fh = $k->[1];
        my $line = <$fh> // '0 -';
        chomp $line;
        push @results, $line;
        waitpid $k->[0], 0;
    }
    my $ok = grep { /^200 / } @results;
    my $invalid = grep { /^400 INVALID_OTP$/ } @results;
    is $ok, 1, "round $round: $n concurrent verifications of one code: exactly one 200 (@results)";
    is $invalid, $n - 1, "round $round: the other " . ($n - 1) . ' are INVALID_OTP';
}

# ---- only a keyed hash is stored ------------------------------------------------------------------------------
{
    my $u = new_user();
    my $code = otp_for($u);
    my $row = psql("SELECT otp_codes::text FROM otp_codes WHERE user_id = $u->{id} AND purpose = 'login'");
    my $hash = psql("SELECT code_hash FROM otp_codes WHERE user_id = $u->{id} AND purpose = 'login'");
    ok defined $hash && length $hash >= 32, 'a code hash is stored (at least 32 characters)';
    ok index($row, $code) < 0, 'the stored row does not contain the code';
    my ($m, $digits) = ($u->{mobile}, $u->{mobile} =~ s/\D//gr);
    my @unkeyed = map { (sha256_hex($_), sha1_hex($_), md5_hex($_), lc sha256_hex($_)) }
        ($code, "$m$code", "$m:$code", "$code$m", "$digits$code", "login:$m:$code", "$m:login:$code");
    push @unkeyed, hmac_sha256_hex($code, ''), hmac_sha256_hex("$m$code", '');
    ok !(grep { index(lc $hash, $_) >= 0 } @unkeyed), 'the stored hash is no unkeyed digest of the code';

    clock_shift(31);
    my $next = otp_for($u);
    my $hash2 = psql("SELECT code_hash FROM otp_codes WHERE user_id = $u->{id} AND purpose = 'login'");
    isnt $hash2, $hash, 'a new code replaces the stored hash';
    is psql("SELECT count(*) FROM otp_codes WHERE user_id = $u->{id} AND purpose = 'login'"), 1,
        'one live login code per user';
    clock_reset();
}

clock_reset();
