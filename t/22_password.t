# Passwords and sessions (API.md, "Auth"): login, the per-account lockout,
# forgot/reset-password, change-password, logout and GET /user/me. The clock
# is shifted, never slept through.
use strict;
use warnings FATAL => 'all';

use Apache::Test qw(-withtestmore);
use GC::Test;

plan tests => 106;

sub code_of  { my $b = shift; return ref $b eq 'HASH' && ref $b->{error} eq 'HASH' ? $b->{error}{code} // '' : '' }
sub field_of { my $b = shift; return ref $b eq 'HASH' && ref $b->{error} eq 'HASH' ? $b->{error}{field} // '' : '' }

sub login  { my ($st, $h, $b) = api_post('/auth/login', json => {@_}); return ($st, $h, $b) }
sub me     { my ($st, $h, $b) = api_get('/user/me', token => shift); return ($st, $h, $b) }
sub change { my $t = shift; my ($st, $h, $b) = api_post('/auth/change-password', token => $t, json => {@_}); return ($st, $h, $b) }
sub reset_pw { my ($st, $h, $b) = api_post('/auth/reset-password', json => {@_}); return ($st, $h, $b) }
sub forgot_code {
    my $m = shift;
    my ($st, undef, $b) = api_post('/auth/forgot-password', json => { mobile => $m });
    die "forgot-password $st\n" unless $st == 200;
    return $b->{data}{otp};
}
sub login_code {
    my $m = shift;
    my ($st, undef, $b) = api_post('/auth/send-otp', json => { mobile => $m });
    die "send-otp $st\n" unless $st == 200;
    return $b->{data}{otp};
}
sub wrong_code { my $c = shift; return sprintf('%06d', ($c + 1 + int(rand 999_998)) % 1_000_000) }
sub failures   { return psql("SELECT count(*) FROM auth_failures WHERE user_id = $_[0]") }
sub token_ok   { my ($st) = me(shift); return $st == 200 }

clock_reset();

# ---- login ---------------------------------------------------------------------------------------
{
    my $m = random_mobile();
    my (undef, undef, $s) = api_post('/auth/signup', json => { mobile => $m, name => 'Pass Word', password => 'hunter2hunter2' });
    my $user = $s->{data};

    my ($st, $h, $b) = login(mobile => $m, password => 'hunter2hunter2');
    is $st, 200, 'login with the right password: 200';
    my $d = $b->{data};
    is_deeply [sort keys %$d], [qw(expires_in token token_type user)],
        'login: data is {token, token_type, expires_in, user}';
    is $d->{token_type}, 'Bearer', 'login: token_type Bearer';
    is $d->{expires_in}, 86400, 'login: expires_in is the default 24 h';
    is_deeply $d->{user}, $user, 'login: data.user is the signed-up user';
    ok token_ok($d->{token}), 'the login token opens /user/me';

    (my $spelled = $m) =~ s/^(\+\d\d)(\d{3})(\d{3})/$1 $2-$3 /;
    ($st) = login(mobileNumber => $spelled, password => 'hunter2hunter2');
    is $st, 200, "login through the mobileNumber alias, spelled '$spelled': 200";

    ($st, $h, $b) = login(mobile => $m, password => 'hunter2hunter3');
    is $st, 401, 'a wrong password: 401';
    is code_of($b), 'INVALID_CREDENTIALS', 'a wrong password: INVALID_CREDENTIALS';
    ($st, $h, $b) = login(mobile => $m, password => 'HUNTER2HUNTER2');
    is code_of($b), 'INVALID_CREDENTIALS', 'passwords are case-sensitive';
    ($st, $h, $b) = login(mobile => $m, password => 'hunter2hunter2 ');
    is code_of($b), 'INVALID_CREDENTIALS', 'passwords are not trimmed (a trailing space is wrong)';

    my $n = random_mobile();
    api_post('/auth/signup', json => { mobile => $n });
    ($st, $h, $b) = login(mobile => $n, password => 'anything at all');
    is $st, 401, 'login to an account without a password: 401';
    is code_of($b), 'INVALID_CREDENTIALS', 'login to an account without a password: INVALID_CREDENTIALS';

    ($st, $h, $b) = login(mobile => random_mobile(), password => 'hunter2hunter2');
    is $st, 404, 'login with an unknown mobile: 404';
    is code_of($b), 'USER_NOT_FOUND', 'login with an unknown mobile: USER_NOT_FOUND';

    ($st, $h, $b) = login(mobile => $m);
    ok $st == 400 && code_of($b) eq 'VALIDATION_ERROR' && field_of($b) eq 'password', 'login without a password: 400 field password';
    ($st, $h, $b) = login(mobile => $m, password => 12345678);
    ok $st == 400 && field_of($b) eq 'password', 'login with a numeric password: 400 field password';
    ($st, $h, $b) = login(password => 'hunter2hunter2');
    ok $st == 400 && field_of($b) eq 'mobile', 'login without a mobile: 400 field mobile';
}

# ---- GET /user/me -------------------------------------------------------------------------------------
{
    my $u = signup_and_login(name => 'Me Myself', password => 'me password 1');
    my ($st, $h, $b) = me($u->{token});
    is $st, 200, 'GET /user/me: 200';
    is $h->{'content-type'}, 'application/json; charset=utf-8', 'GET /user/me: JSON';
    is_deeply [sort keys %{ $b->{data} }], [sort qw(id mobile name tier has_password created_at)],
        'GET /user/me: exactly the user fields';
    is_deeply $b->{data}, $u->{user}, 'GET /user/me: the same user verify-otp returned';
    is $b->{data}{mobile}, $u->{mobile}, 'GET /user/me: my mobile';
    ok $b->{data}{has_password}, 'GET /user/me: has_password true';
    ($st, $h, $b) = api_get('/user/me');
    ok $st == 401 && code_of($b) eq 'UNAUTHORIZED', 'GET /user/me without a token: 401 UNAUTHORIZED';
}

# ---- the per-account lockout ------------------------------------------------------------------------------
{
    clock_reset();
    my $pw = 'lockout password';
    my $u = signup_and_login(password => $pw);    # its login code was sent at t=0
    my ($m, $id, $token) = ($u->{mobile}, $u->{user}{id}, $u->{token});
    my ($st, $h, $b);

    # t=0: three wrong passwords.
    for (1 .. 3) {
        ($st, $h, $b) = login(mobile => $m, password => "wrong $_ password");
        is code_of($b), 'INVALID_CREDENTIALS', "t=0: wrong password $_: INVALID_CREDENTIALS";
    }

    # t=600: two wrong reset codes, two wrong login codes.
    clock_shift(600);
    my $reset = forgot_code($m);
    for (1 .. 2) {
        ($st, $h, $b) = reset_pw(mobile => $m, otp => wrong_code($reset), new_password => 'never set this');
        is code_of($b), 'INVALID_OTP', "t=600: wrong reset code $_: INVALID_OTP";
    }
    my $code = login_code($m);
    for (1 .. 2) {
        ($st, $h, $b) = api_post('/auth/verify-otp', json => { mobile => $m, otp => wrong_code($code) });
        is code_of($b), 'INVALID_OTP', "t=600: wrong login code $_: INVALID_OTP";
    }

    # t=1200: two wrong current passwords.
    clock_shift(600);
    for (1 .. 2) {
        ($st, $h, $b) = change($token, current_password => "not it $_", new_password => 'never set this');
        is code_of($b), 'INVALID_CREDENTIALS', "t=1200: wrong current_password $_: INVALID_CREDENTIALS";
    }
    is failures($id), 9, 'nine failures are recorded';
    ($st) = login(mobile => $m, password => $pw);
    is $st, 200, 'with nine failures the right password still logs in';

    ($st, $h, $b) = login(mobile => $m, password => 'the tenth failure');
    is code_of($b), 'INVALID_CREDENTIALS', 'the tenth failure is still answered INVALID_CREDENTIALS';

    # Locked: every checking endpoint refuses, right credentials included.
    ($st, $h, $b) = login(mobile => $m, password => $pw);
    is $st, 429, 'locked: login with the right password: 429';
    is code_of($b), 'TOO_MANY_ATTEMPTS', 'locked: TOO_MANY_ATTEMPTS';
    my $ra = $h->{'retry-after'} // -1;
    ok $ra >= 2370 && $ra <= 2400,
        "locked: Retry-After is the time until the oldest failure (t=0) is an hour old, ~2400 s (got $ra)";

    my $live = login_code($m);
    ok defined $live, 'locked: send-otp still answers (it checks no credentials)';
    ($st, $h, $b) = api_post('/auth/verify-otp', json => { mobile => $m, otp => $live });
    ok $st == 429 && code_of($b) eq 'TOO_MANY_ATTEMPTS' && defined $h->{'retry-after'},
        'locked: verify-otp with the right code: 429 TOO_MANY_ATTEMPTS with Retry-After';
    my $reset2 = forgot_code($m);
    ($st, $h, $b) = reset_pw(mobile => $m, otp => $reset2, new_password => 'a new password');
    ok $st == 429 && code_of($b) eq 'TOO_MANY_ATTEMPTS' && defined $h->{'retry-after'},
        'locked: reset-password with the right code: 429 TOO_MANY_ATTEMPTS with Retry-After';
    ($st, $h, $b) = change($token, current_password => $pw, new_password => 'a new password');
    ok $st == 429 && code_of($b) eq 'TOO_MANY_ATTEMPTS' && defined $h->{'retry-after'},
        'locked: change-password with the right password: 429 TOO_MANY_ATTEMPTS with Retry-After';
    ok token_ok($token), 'locked: an existing token still opens /user/me';
    is failures($id), 10, 'answers while locked are not counted as failures';

    # Just before the oldest failure leaves the hour: still locked.
    clock_shift($ra - 60);
    ($st, $h, $b) = login(mobile => $m, password => $pw);
    is $st, 429, 'a minute before the unlock: still 429';
    my $ra2 = $h->{'retry-after'} // -1;
    ok $ra2 > 0 && $ra2 <= 60, "a minute before the unlock: Retry-After <= 60 (got $ra2)";

    clock_shift(61);
    ($st, $h, $b) = login(mobile => $m, password => $pw);
    is $st, 200, 'once the oldest failure is an hour old: login works again';
    my $again = login_code($m);
    ($st) = api_post('/auth/verify-otp', json => { mobile => $m, otp => $again });
    is $st, 200, 'once unlocked: verify-otp works again';

    # A failure of another account does not count here, and vice versa.
    my $other = signup_and_login(password => 'other password');
    ($st) = login(mobile => $other->{mobile}, password => 'other password');
    is $st, 200, "another account is not affected by this one's failures";

    # Malformed input is not a failure.
    my $v = signup_and_login(password => 'valid password');
    for (1 .. 12) {
        api_post('/auth/verify-otp', json => { mobile => $v->{mobile}, otp => 'abc' });
    }
    is failures($v->{user}{id}), 0, 'twelve malformed codes record no failure';
    ($st) = login(mobile => $v->{mobile}, password => 'valid password');
    is $st, 200, 'and do not lock the account';
    clock_reset();
}

# ---- forgot-password and reset-password ------------------------------------------------------------------------
{
    my $u = signup_and_login(password => 'old password 1');
    my $code = forgot_code($u->{mobile});
    like $code, qr/^[0-9]{6}$/, 'forgot-password returns a six-digit reset code';

    my ($st, $h, $b) = reset_pw(mobile => $u->{mobile}, otp => $code, new_password => 'short12');
    ok $st == 400 && code_of($b) eq 'VALIDATION_ERROR' && field_of($b) eq 'new_password',
        'reset-password with a 7-character password: 400 field new_password';
    ($st, $h, $b) = reset_pw(mobile => $u->{mobile}, otp => $code, new_password => 'x' x 129);
    ok $st == 400 && field_of($b) eq 'new_password', 'reset-password with 129 characters: 400 field new_password';
    ($st, $h, $b) = reset_pw(mobile => $u->{mobile}, otp => $code);
    ok $st == 400 && field_of($b) eq 'new_password', 'reset-password without new_password: 400 field new_password';
    ($st, $h, $b) = reset_pw(mobile => $u->{mobile}, new_password => 'new password 2');
    ok $st == 400 && field_of($b) eq 'otp', 'reset-password without otp: 400 field otp';

    ($st, $h, $b) = reset_pw(mobile => $u->{mobile}, otp => $code, new_password => 'new password 2');
    is $st, 200, 'reset-password with the reset code (still valid after the rejected tries): 200';
    ok $b->{success}, 'reset-password: success envelope';
    ($st) = login(mobile => $u->{mobile}, password => 'new password 2');
    is $st, 200, 'login with the new password: 200';
    ($st, $h, $b) = login(mobile => $u->{mobile}, password => 'old password 1');
    is code_of($b), 'INVALID_CREDENTIALS', 'login with the old password: INVALID_CREDENTIALS';
    ($st, $h, $b) = me($u->{token});
    ok $st == 401 && code_of($b) eq 'INVALID_TOKEN', 'a token from before the reset: 401 INVALID_TOKEN';
    ($st, $h, $b) = reset_pw(mobile => $u->{mobile}, otp => $code, new_password => 'third password 3');
    ok $st == 400 && code_of($b) eq 'INVALID_OTP', 'the reset code a second time: INVALID_OTP';

    # An account without a password gets one; the aliases work.
    my $v = signup_and_login();
    $code = forgot_code($v->{mobile});
    ($st) = reset_pw(mobile_number => $v->{mobile}, otp_code => $code, newPassword => 'alias password');
    is $st, 200, 'reset-password through the mobile_number, otp_code and newPassword aliases: 200';
    ($st, $h, $b) = login(mobile => $v->{mobile}, password => 'alias password');
    is $st, 200, 'an account without a password can log in after a reset';
    ok $b->{data}{user}{has_password}, 'and now has_password is true';

    my $w = signup_and_login();
    $code = forgot_code($w->{mobile});
    ($st) = reset_pw(mobile => $w->{mobile}, otp => $code, new_password => 'canonical pw', newPassword => 'alias pw 123');
    ($st) = login(mobile => $w->{mobile}, password => 'canonical pw');
    is $st, 200, 'new_password and newPassword both sent: new_password wins';
    ($st) = login(mobile => $w->{mobile}, password => 'alias pw 123');
    is $st, 401, 'new_password and newPassword both sent: newPassword is not set';
}

# ---- change-password ------------------------------------------------------------------------------------------
{
    my $u = signup_and_login(password => 'first password');
    my $t1 = $u->{token};
    my ($st, $h, $b) = change($t1, new_password => 'second password');
    ok $st == 400 && code_of($b) eq 'VALIDATION_ERROR' && field_of($b) eq 'current_password',
        'change-password without current_password (the account has one): 400 field current_password';
    ($st, $h, $b) = change($t1, current_password => 'not the password', new_password => 'second password');
    is $st, 401, 'change-password with a wrong current_password: 401';
    is code_of($b), 'INVALID_CREDENTIALS', 'wrong current_password: INVALID_CREDENTIALS';
    ok token_ok($t1), 'a wrong current_password does not end the session';
    ($st, $h, $b) = change($t1, current_password => 'first password', new_password => 'x' x 7);
    ok $st == 400 && field_of($b) eq 'new_password', 'a 7-character new_password: 400 field new_password';
    ($st, $h, $b) = change($t1, current_password => 'first password', new_password => 'x' x 129);
    ok $st == 400 && field_of($b) eq 'new_password', 'a 129-character new_password: 400 field new_password';
    ($st, $h, $b) = change($t1, current_password => 'first password');
    ok $st == 400 && field_of($b) eq 'new_password', 'no new_password: 400 field new_password';
    ($st, $h, $b) = login(mobile => $u->{mobile}, password => 'first password');
    is $st, 200, 'the rejected changes left the password as it was';

    ($st, $h, $b) = change($t1, current_password => 'first password', new_password => 'y' x 128);
    is $st, 200, 'change-password with the right current_password and 128 characters: 200';
    my $d = $b->{data};
    is_deeply [sort keys %$d], [qw(expires_in token token_type user)],
        'change-password: data is {token, token_type, expires_in, user}';
    is $d->{token_type}, 'Bearer', 'change-password: token_type Bearer';
    is $d->{user}{id}, $u->{user}{id}, 'change-password: data.user is me';
    my $t2 = $d->{token};
    isnt $t2, $t1, 'change-password returns a fresh token';
    ok token_ok($t2), 'the fresh token opens /user/me';
    ($st, $h, $b) = me($t1);
    ok $st == 401 && code_of($b) eq 'INVALID_TOKEN', 'the old token: 401 INVALID_TOKEN';
    ($st) = login(mobile => $u->{mobile}, password => 'y' x 128);
    is $st, 200, 'login with the new password: 200';
    ($st) = login(mobile => $u->{mobile}, password => 'first password');
    is $st, 401, 'login with the old password: 401';

    ($st, $h, $b) = change($t2, currentPassword => 'y' x 128, newPassword => 'third password');
    is $st, 200, 'change-password through the currentPassword and newPassword aliases: 200';
    my $t3 = $b->{data}{token};
    ($st) = login(mobile => $u->{mobile}, password => 'third password');
    is $st, 200, 'the aliased change took effect';
    ok !token_ok($t2) && token_ok($t3), 'again the previous token dies and the fresh one works';

    # No password yet: no current_password needed.
    my $n = signup_and_login();
    ($st, $h, $b) = change($n->{token}, new_password => 'first ever password');
    is $st, 200, 'change-password on an account without a password, no current_password: 200';
    ok $b->{data}{user}{has_password}, 'and has_password is now true';
    my (undef, undef, $me) = me($b->{data}{token});
    ok $me->{data}{has_password}, 'GET /user/me agrees: has_password true';
    ($st) = login(mobile => $n->{mobile}, password => 'first ever password');
    is $st, 200, 'the first password logs in';
    ($st, $h, $b) = change($b->{data}{token}, new_password => 'second ever password');
    ok $st == 400 && field_of($b) eq 'current_password', 'now that it has one, current_password is required';

    ($st, $h, $b) = api_post('/auth/change-password', json => { new_password => 'whatever 123' });
    ok $st == 401 && code_of($b) eq 'UNAUTHORIZED', 'change-password without a token: 401 UNAUTHORIZED';
}

# ---- logout ---------------------------------------------------------------------------------------------------
{
    my $m = random_mobile();
    api_post('/auth/signup', json => { mobile => $m, password => 'logout password' });
    my (undef, undef, $la) = login(mobile => $m, password => 'logout password');
    my (undef, undef, $lb) = login(mobile => $m, password => 'logout password');
    my ($ta, $b_tok) = ($la->{data}{token}, $lb->{data}{token});
    isnt $ta, $b_tok, 'two logins give two tokens';

    my ($st, $h, $b) = api_post('/auth/logout', token => $ta);
    is $st, 200, 'logout: 200';
    ok $b->{success} && exists $b->{data} && !defined $b->{data}, 'logout: success with data null';
    ($st, $h, $b) = me($ta);
    ok $st == 401 && code_of($b) eq 'INVALID_TOKEN', 'the logged-out token: 401 INVALID_TOKEN';
    ok token_ok($b_tok), "the user's other token still works";
    ($st, $h, $b) = api_post('/auth/logout', token => $ta);
    ok $st == 401 && code_of($b) eq 'INVALID_TOKEN', 'logging out twice: 401 INVALID_TOKEN';
    ($st, $h, $b) = change($ta, current_password => 'logout password', new_password => 'changed by a dead token');
    ok $st == 401 && code_of($b) eq 'INVALID_TOKEN', 'the logged-out token cannot change the password';
    ($st) = login(mobile => $m, password => 'logout password');
    is $st, 200, 'logout changed nothing about the password';

    ($st, $h, $b) = api_post('/auth/logout', token => $b_tok, json => {});
    is $st, 200, 'logout with an empty JSON object as body: 200';
    ok !token_ok($b_tok), 'and that token is refused too';

    ($st, $h, $b) = api_post('/auth/logout');
    ok $st == 401 && code_of($b) eq 'UNAUTHORIZED', 'logout without a token: 401 UNAUTHORIZED';
}

clock_reset();
