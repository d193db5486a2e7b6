# The error log after a full auth flow: no secret of any kind (OTP codes,
# passwords, tokens, the JWT secret) is ever written; every line the module
# writes carries its GCnnnnn tag and the request id; no child crashed.
use strict;
use warnings FATAL => 'all';

use Apache::Test qw(-withtestmore);
use GC::Test;

plan tests => 45;

END { clock_reset() }
clock_reset();

my $mark = error_log_mark();
my (@codes, @passwords, @tokens, @rids);

# Every request carries an X-Request-Id of ours, so the log lines it caused
# can be found again.
my $rid_seq = 0;
sub call {
    my ($method, $path, %opt) = @_;
    my $rid = sprintf('t41-%d-%d', $$, ++$rid_seq);
    $opt{headers} = { %{ $opt{headers} || {} }, 'X-Request-Id' => $rid };
    push @rids, $rid;
    my @res = api_request($method, $path, %opt);
    is($res[1]{'x-request-id'}, $rid, "$method $path: our X-Request-Id echoed")
        if $rid_seq <= 3;
    return @res;
}

my $mobile = random_mobile();
my $pw1 = 'Pw1-' . join('', map { ('a' .. 'z')[rand 26] } 1 .. 14);
my $pw2 = 'Pw2-' . join('', map { ('a' .. 'z')[rand 26] } 1 .. 14);
my $pw3 = 'Pw3-' . join('', map { ('a' .. 'z')[rand 26] } 1 .. 14);
my $wrong = 'Wrong-' . join('', map { ('a' .. 'z')[rand 26] } 1 .. 12);
push @passwords, $pw1, $pw2, $pw3, $wrong;

my ($st, $h, $b) = call(POST => '/auth/signup', json => { mobile => $mobile, name => 'Log Test',
                                                        password => $pw1 });
is($st, 201, 'signup with a password');

($st, undef, $b) = call(POST => '/auth/send-otp', json => { mobile => $mobile });
is($st, 200, 'send-otp');
my $otp = $b->{data}{otp};
push @codes, $otp;

# a wrong code first (logged as a failure, maybe), then the right one
my $wrong_otp = $otp eq '000000' ? '111111' : '000000';
($st) = call(POST => '/auth/verify-otp', json => { mobile => $mobile, otp => $wrong_otp });
is($st, 400, 'verify-otp with a wrong code: 400');
($st, undef, $b) = call(POST => '/auth/verify-otp', json => { mobile => $mobile, otp => $otp });
is($st, 200, 'verify-otp');
push @tokens, $b->{data}{token};

($st) = call(POST => '/auth/login', json => { mobile => $mobile, password => $wrong });
is($st, 401, 'login with a wrong password: 401');
($st, undef, $b) = call(POST => '/auth/login', json => { mobile => $mobile, password => $pw1 });
is($st, 200, 'login with the password');
my $token = $b->{data}{token};
push @tokens, $token;

($st, undef, $b) = call(GET => '/user/me', token => $token);
is($st, 200, '/user/me');

($st) = call(POST => '/auth/change-password', token => $token,
             json => { current_password => $wrong, new_password => $pw2 });
is($st, 401, 'change-password with a wrong current password: 401');
($st, undef, $b) = call(POST => '/auth/change-password', token => $token,
                        json => { current_password => $pw1, new_password => $pw2 });
is($st, 200, 'change-password');
push @tokens, $b->{data}{token};
my $stale = $token;
($st) = call(GET => '/user/me', token => $stale);
is($st, 401, 'the pre-change token is refused (and that refusal logged or not)');

($st, undef, $b) = call(POST => '/auth/forgot-password', json => { mobile => $mobile });
is($st, 200, 'forgot-password');
my $reset = $b->{data}{otp};
push @codes, $reset;
($st) = call(POST => '/auth/reset-password',
             json => { mobile => $mobile, otp => $reset, new_password => $pw3 });
is($st, 200, 'reset-password');
($st, undef, $b) = call(POST => '/auth/login', json => { mobile => $mobile, password => $pw3 });
is($st, 200, 'login with the reset password');
push @tokens, $b->{data}{token};
($st) = call(POST => '/auth/logout', token => $b->{data}{token});
is($st, 200, 'logout');

# Bodies that do not parse: a parser's message quotes the text "near" the
# error, which would be the secret itself.
my $leak_pw = 'Broken-' . join('', map { ('a' .. 'z')[rand 26] } 1 .. 12);
push @passwords, $leak_pw;
($st) = call(POST => '/auth/login', body => qq({"mobile":"$mobile","password":"$leak_pw),
             headers => { 'Content-Type' => 'application/json' });
is($st, 400, 'login with a truncated JSON body: 400');
($st) = call(POST => '/auth/login', body => qq({"mobile":"$mobile","password":$leak_pw}),
             headers => { 'Content-Type' => 'application/json' });
is($st, 400, 'login with an unquoted password: 400');
my $leak_otp = sprintf('%06d', int(rand 1_000_000));
push @codes, $leak_otp;
($st) = call(POST => '/auth/verify-otp', body => qq({"mobile":"$mobile","otp":"$leak_otp),
             headers => { 'Content-Type' => 'application/json' });
is($st, 400, 'verify-otp with a truncated JSON body: 400');
# a token sent where a body field goes, and a broken token in the header
($st) = call(GET => '/user/me', token => "$tokens[0]x");
is($st, 401, 'a token with a broken signature: 401');

# ---- the log ---------------------------------------------------------------------
my $log = error_log_since($mark);
ok(length $log, 'the flow wrote to the error log');

# Timestamps ("11:18:25.124034") and pids hold digit runs that could match a
# 6-digit code by chance: look at each line without its leading brackets.
my @lines = split /\n/, $log;
my @bodies = map { (my $x = $_) =~ s/^(?:\[[^\]]*\]\s*)+//; $x } @lines;

sub absent {
    my ($needle, $name, %o) = @_;
    my $re = $o{digits} ? qr/(?<!\d)\Q$needle\E(?!\d)/ : qr/\Q$needle\E/;
    my @hit = grep { $_ =~ $re } ($o{digits} ? @bodies : @lines);
    ok(!@hit, $name) or diag("logged: $hit[0]");
}

absent($_, "OTP code $_ never logged", digits => 1) for grep { defined } @codes;
absent($_, "password $_ never logged") for @passwords;
for my $t (grep { defined } @tokens) {
    my ($hdr, $pl, $sig) = split /\./, $t;
    absent($sig, 'a token signature never logged');
    absent($pl, 'a token payload never logged');
}
absent(jwt_secret(), 'the JWT secret never logged');
absent(substr(jwt_secret(), 0, 16), 'no part of the JWT secret logged');

# Module lines: ours have no module name in the brackets when APLOG_USE_MODULE
# is missing ("[:info]") and "[gemclone:info]" when it is there; either way
# they carry our tag, which no other module uses.
my @ours = grep { /\[(?:gemclone)?:(?:emerg|alert|crit|error|warn|notice|info|debug|trace\d)\]/
                  || /\bGC\d{5}\b/ } @lines;
ok(scalar @ours, 'the module logged something during the flow') or diag($log);
my @untagged = grep { !/\bGC\d{5}: / } @ours;
ok(!@untagged, 'every module line carries a GCnnnnn tag') or diag($untagged[0]);
my @no_rid = grep { !/\bGC\d{5}: \[rid [A-Za-z0-9._:-]{1,128}\]/ } @ours;
ok(!@no_rid, 'every module line carries [rid ...]') or diag($no_rid[0]);
my %ours_rid = map { /\[rid ([^\]]+)\]/ ? ($1 => 1) : () } @ours;
ok(scalar(grep { $ours_rid{$_} } @rids), 'the request ids in the log are the ones the client sent');

my @crash = grep { /segfault|Segmentation fault|exit signal|AH00052|double free|AddressSanitizer/ }
            @lines;
ok(!@crash, 'no crash, no child killed by a signal') or diag($crash[0]);
