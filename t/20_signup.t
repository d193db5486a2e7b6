# POST /auth/signup (API.md, "Auth"): the user object, mobile numbers and
# their aliases, name and password rules (lengths in code points), duplicates,
# and how the password is stored.
use strict;
use warnings FATAL => 'all';
use utf8;

use Apache::Test qw(-withtestmore);
use GC::Test;
use Encode ();

plan tests => 96;

my $RFC3339_UTC = qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;

# GC::Test's json helpers work on characters, not UTF-8 bytes; names and
# passwords here go beyond ASCII, so this file encodes and decodes UTF-8 itself.
my $UTF8_JSON = JSON::PP->new->utf8->canonical;
sub post_utf8 {
    my ($path, $doc) = @_;
    my ($st, undef, undef, $raw) = api_post($path, body => $UTF8_JSON->encode($doc),
        headers => { 'Content-Type' => 'application/json' });
    my $b = eval { $UTF8_JSON->decode($raw) };
    return ($st, $b, $raw);
}
my $SHOW = JSON::PP->new->ascii->allow_nonref;    # test names stay ASCII
sub signup { return post_utf8('/auth/signup', {@_}) }
sub login  { return post_utf8('/auth/login', {@_}) }
sub code_of  { my $b = shift; return ref $b eq 'HASH' && ref $b->{error} eq 'HASH' ? $b->{error}{code} // '' : '' }
sub field_of { my $b = shift; return ref $b eq 'HASH' && ref $b->{error} eq 'HASH' ? $b->{error}{field} // '' : '' }
sub sql_quote { my $s = shift; $s =~ s/'/''/g; return "'$s'" }
sub stored_count { return psql('SELECT count(*) FROM users WHERE mobile = ' . sql_quote(shift)) }

# Seconds since the epoch of an RFC 3339 UTC timestamp.
sub epoch_of {
    my ($y, $mo, $d, $h, $mi, $s) = $_[0] =~ /^(\d+)-(\d+)-(\d+)T(\d+):(\d+):(\d+)Z$/ or return 0;
    require Time::Local;
    return Time::Local::timegm($s, $mi, $h, $d, $mo - 1, $y);
}

clock_reset();

# ---- the happy path and the user object ------------------------------------------------
{
    my $m = random_mobile();
    my ($st, $b, $raw) = signup(mobile => $m, name => 'Asha Rao', password => 'correct horse');
    is $st, 201, 'signup: 201';
    ok $b->{success}, 'signup: success envelope';
    my $u = $b->{data};
    is_deeply [sort keys %$u], [sort qw(id mobile name tier has_password created_at)],
        'user has exactly id, mobile, name, tier, has_password, created_at';
    ok defined $u->{id} && $u->{id} =~ /^[1-9][0-9]*$/ && json_encode($u->{id}) !~ /"/,
        'user.id is a positive JSON number';
    is $u->{mobile}, $m, 'user.mobile is the mobile sent';
    is $u->{name}, 'Asha Rao', 'user.name is the name sent';
    is $u->{tier}, 'basic', 'a new user is basic';
    ok JSON::PP::is_bool($u->{has_password}) && $u->{has_password}, 'has_password is JSON true';
    like $u->{created_at} // '', $RFC3339_UTC, 'created_at is RFC 3339 UTC in whole seconds';
    ok abs(epoch_of($u->{created_at}) - time) < 60, 'created_at is now';
    unlike $raw, qr/pbkdf2|password_hash|correct horse/i, 'the answer holds no password or hash';
    my ($id, $name) = psql_row('SELECT id, name FROM users WHERE mobile = ' . sql_quote($m));
    is $id, $u->{id}, 'user.id is the stored id';

    $m = random_mobile();
    ($st, $b) = signup(mobile => $m);
    is $st, 201, 'signup with the mobile alone: 201';
    ok exists $b->{data}{name} && !defined $b->{data}{name}, 'name defaults to null (present)';
    ok JSON::PP::is_bool($b->{data}{has_password}) && !$b->{data}{has_password},
        'without a password has_password is JSON false';
    isnt $b->{data}{id}, $u->{id}, 'a second user gets another id';
}

# ---- mobile numbers ----------------------------------------------------------------------
{
    # random_mobile() is "+49" and 12 digits; spell it with spaces and dashes.
    my $m = random_mobile();
    my $spelled = substr($m, 0, 3) . ' ' . substr($m, 3, 5) . '-' . substr($m, 8, 3) . ' - ' . substr($m, 11);
    my ($st, $b) = signup(mobile => $spelled);
    is $st, 201, "mobile '$spelled' is accepted";
    is $b->{data}{mobile}, $m, "spaces and dashes are stripped: '$m'";
    is stored_count($m), 1, 'the stripped form is what is stored';

    ($st, $b) = signup(mobile => $m);
    is $st, 409, 'the same number spelled differently is a duplicate: 409';

    (my $no_plus = random_mobile()) =~ s/^\+//;
    ($st, $b) = signup(mobile => $no_plus);
    is $b->{data}{mobile}, $no_plus, 'a number without + is stored without +';
    ($st, $b) = signup(mobile => "+$no_plus");
    is $st, 201, 'the same digits with a leading + are another number (stored as is)';

    my $eight = sprintf('%08d', 10_000_000 + int(rand 89_999_999));
    ($st, $b) = signup(mobile => $eight);
    is $st, 201, '8 digits: accepted';
    my $fifteen = '+' . substr(random_mobile() =~ s/\D//gr . '999', 0, 15);
    ($st, $b) = signup(mobile => $fifteen);
    is $st, 201, '15 digits with +: accepted';

    for my $bad ('1234567', '+1234567', '1234567890123456', '+1234567890123456', '+49abc1234567',
                 '++491234567890', '49+1234567890', '+', '', '   ', '(030) 12345678',
                 '030.12345678', "+49\x{0661}\x{0662}345678901", "+49\t1234567890") {
        ($st, $b) = signup(mobile => $bad);
        ok $st == 400 && code_of($b) eq 'VALIDATION_ERROR' && field_of($b) eq 'mobile',
            'mobile ' . $SHOW->encode($bad) . ': 400 VALIDATION_ERROR field mobile';
    }
    ($st, $b) = signup(name => 'No Mobile');
    ok $st == 400 && field_of($b) eq 'mobile', 'no mobile: 400 field mobile';
}

# ---- mobile aliases: the canonical name wins -------------------------------------------------
{
    for my $alias (qw(mobile_number mobileNumber)) {
        my $m = random_mobile();
        my ($st, $b) = signup($alias => $m);
        is $st, 201, "alias $alias: 201";
        is $b->{data}{mobile}, $m, "alias $alias: the number is stored";

        my ($canon, $other) = (random_mobile(), random_mobile());
        ($st, $b) = signup(mobile => $canon, $alias => $other);
        is $b->{data}{mobile}, $canon, "mobile and $alias both sent: mobile wins";
        is stored_count($other), 0, "mobile and $alias both sent: the $alias number is not registered";
    }
    my ($st, $b) = signup(mobile => 'not a number', mobile_number => random_mobile());
    ok $st == 400 && field_of($b) eq 'mobile', 'a bad canonical mobile is not rescued by a good alias';
}

# ---- name ------------------------------------------------------------------------------------
{
    my ($st, $b) = signup(mobile => random_mobile(), name => "  \t Ann  Lee \n ");
    is $b->{data}{name}, 'Ann  Lee', 'name is trimmed at both ends, inner spaces kept';

    my $emoji = "\x{1F600}";    # one code point, four UTF-8 bytes, two UTF-16 units
    my $m = random_mobile();
    ($st, $b) = signup(mobile => $m, name => $emoji x 100);
    is $st, 201, 'a name of 100 emoji (400 bytes) is accepted';
    is $b->{data}{name}, $emoji x 100, 'the 100-emoji name comes back intact';
    is psql('SELECT char_length(name) FROM users WHERE mobile = ' . sql_quote($m)), 100,
        'the stored name is 100 code points';
    ($st, $b) = signup(mobile => random_mobile(), name => $emoji x 101);
    ok $st == 400 && field_of($b) eq 'name', 'a name of 101 emoji: 400 field name';

    ($st, $b) = signup(mobile => random_mobile(), name => 'é' x 100);
    is $st, 201, 'a name of 100 two-byte letters is accepted';
    ($st, $b) = signup(mobile => random_mobile(), name => 'a' x 100);
    is $st, 201, 'a name of 100 ASCII letters is accepted';
    ($st, $b) = signup(mobile => random_mobile(), name => 'a' x 101);
    ok $st == 400 && field_of($b) eq 'name', 'a name of 101 letters: 400 field name';
    ($st, $b) = signup(mobile => random_mobile(), name => '   ' . ('a' x 100) . '   ');
    is $st, 201, '100 letters padded with spaces: accepted (trimmed first)';
    ($st, $b) = signup(mobile => random_mobile(), name => 'x');
    is $st, 201, 'a one-letter name is accepted';

    for my $blank ('', ' ', "  \t\n ", "\x{3000}\x{00A0}") {
        my $bm = random_mobile();
        ($st, $b) = signup(mobile => $bm, name => $blank);
        ok $st == 400 && code_of($b) eq 'VALIDATION_ERROR' && field_of($b) eq 'name',
            'name ' . $SHOW->encode($blank) . ': 400 VALIDATION_ERROR field name';
        is stored_count($bm), 0, 'name ' . $SHOW->encode($blank) . ': no user stored';
    }

    ($st, $b) = signup(mobile => random_mobile(), title => 'From Title');
    is $b->{data}{name}, 'From Title', 'title is an alias of name';
    ($st, $b) = signup(mobile => random_mobile(), name => 'Canonical', title => 'Alias');
    is $b->{data}{name}, 'Canonical', 'name and title both sent: name wins';
    ($st, $b) = signup(mobile => random_mobile(), title => 'a' x 101);
    ok $st == 400 && field_of($b) eq 'name', 'title is held to the name rules (field name)';
}

# ---- password ----------------------------------------------------------------------------------
{
    my $emoji = "\x{1F511}";
    for my $case (
        ['7 letters',   'a' x 7,      0],
        ['8 letters',   'a' x 8,      1],
        ['128 letters', 'b' x 128,    1],
        ['129 letters', 'c' x 129,    0],
        ['7 emoji (28 bytes)',  $emoji x 7,   0],
        ['8 emoji',             $emoji x 8,   1],
        ['128 emoji (512 bytes)', $emoji x 128, 1],
        ['129 emoji',           $emoji x 129, 0],
        ['8 spaces',            ' ' x 8,      1],
        ['"  abcd  " (8 only with its spaces: never trimmed)', '  abcd  ', 1],
    ) {
        my ($what, $pw, $ok) = @$case;
        my $m = random_mobile();
        my ($st, $b) = signup(mobile => $m, password => $pw);
        if ($ok) {
            is $st, 201, "password of $what: accepted";
        }
        else {
            ok $st == 400 && code_of($b) eq 'VALIDATION_ERROR' && field_of($b) eq 'password',
                "password of $what: 400 field password";
        }
    }

    # Passwords are never trimmed: the spaces are part of it.
    my $m = random_mobile();
    my ($st, $b) = signup(mobile => $m, password => '  spaced out  ');
    is $st, 201, 'a password with outer spaces is accepted';
    ($st) = login(mobile => $m, password => '  spaced out  ');
    is $st, 200, 'login with the exact password (spaces included) works';
    ($st) = login(mobile => $m, password => 'spaced out');
    is $st, 401, 'login with the trimmed password fails: the spaces were kept';

    # Code points, not bytes: the emoji password logs in.
    $m = random_mobile();
    signup(mobile => $m, password => $emoji x 8);
    ($st) = login(mobile => $m, password => $emoji x 8);
    is $st, 200, 'an emoji password logs in';
}

# ---- duplicates ---------------------------------------------------------------------------------
{
    my $m = random_mobile();
    my ($st, $b) = signup(mobile => $m, name => 'First');
    is $st, 201, 'first signup: 201';
    my $first_id = $b->{data}{id};
    ($st, $b) = signup(mobile => $m, name => 'Second', password => 'another password');
    is $st, 409, 'second signup of the same mobile: 409';
    is code_of($b), 'CONFLICT', 'second signup: code CONFLICT';
    ok !$b->{success}, 'second signup: error envelope';
    my ($name, $hash) = psql_row('SELECT name, password_hash FROM users WHERE mobile = ' . sql_quote($m));
    is $name, 'First', 'the duplicate did not change the name';
    is $hash, '', 'the duplicate did not set a password';
    is stored_count($m), 1, 'still one user with that mobile';
    ($st, $b) = signup(mobile_number => $m);
    is $st, 409, 'a duplicate through the alias: 409';
}

# ---- how the password is stored ----------------------------------------------------------------
{
    my $pw = 'Sup3r secret pässword';
    my ($m1, $m2) = (random_mobile(), random_mobile());
    signup(mobile => $m1, password => $pw);
    signup(mobile => $m2, password => $pw);
    my $h1 = psql('SELECT password_hash FROM users WHERE mobile = ' . sql_quote($m1));
    my $h2 = psql('SELECT password_hash FROM users WHERE mobile = ' . sql_quote($m2));
    like $h1, qr/^\$pbkdf2-sha256\$/, 'the stored hash starts with $pbkdf2-sha256$';
    like $h1, qr/^\$pbkdf2-sha256\$i=\d+\$[A-Za-z0-9_\-+\/=.]+\$[A-Za-z0-9_\-+\/=.]+$/,
        'the stored hash is self-describing: cost, salt and hash';
    my $pw_bytes = Encode::encode('UTF-8', $pw);
    ok index($h1, $pw) < 0 && index($h1, $pw_bytes) < 0 && index($h1, 'Sup3r') < 0,
        'the stored hash does not contain the password';
    isnt $h1, $h2, 'the same password gets another hash for another user (random salt)';
    my $all = join "\n", psql("SELECT coalesce(password_hash, '') FROM users");
    unlike $all, qr/^(?!\$pbkdf2-sha256\$)./m, 'every stored password is a PBKDF2 string';
}

clock_reset();
