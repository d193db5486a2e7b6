# Start-up validation of the GemClone* directives, through `apache2 -t`
# (configtest) on small generated configurations: what is refused, that the
# refusal names the directive at fault, and how a <VirtualHost> merges with
# the main server. configtest runs the check_config hook, where the module
# validates each server's merged settings (post_config never runs under -t).
use strict;
use warnings FATAL => 'all';

use Apache::Test qw(-withtestmore);
use File::Temp ();
use File::Spec ();
use GC::Test;

plan tests => 95;

my $HTTPD = Apache::Test::vars('httpd') || '/usr/sbin/apache2';
my $MODDIR = '/usr/lib/apache2/modules';
my $SO = File::Spec->catfile(Apache::Test::vars('top_dir'), 'mod_gemclone', '.libs',
                             'mod_gemclone.so');
ok(-x $HTTPD, "httpd binary $HTTPD");
ok(-f $SO, "module built at $SO");

my $dir = File::Temp::tempdir('gc-config-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $SECRET = 'config-test-secret-0123456789abcdef';   # 35 bytes
my $UNSET = "GC_T42_UNSET_$$";
delete $ENV{$UNSET};

# The frame every case shares; %o drops parts or adds directives.
#   dbd => 0          no mod_dbd at all (neither LoadModule nor DBD*)
#   secret => undef   no GemCloneJWTSecret in the main server
#   main => TEXT      more main-server directives
#   tail => TEXT      appended at the end (virtual hosts)
sub config_text {
    my %o = @_;
    my $secret = exists $o{secret} ? $o{secret} : $SECRET;
    my $t = <<"EOF";
ServerRoot "$dir"
DefaultRuntimeDir "$dir"
PidFile "$dir/httpd.pid"
ErrorLog "$dir/error_log"
ServerName localhost
Listen 127.0.0.1:1
LoadModule mpm_event_module $MODDIR/mod_mpm_event.so
LoadModule authz_core_module $MODDIR/mod_authz_core.so
EOF
    if ($o{dbd} // 1) {
        $t .= "LoadModule dbd_module $MODDIR/mod_dbd.so\n";
    }
    $t .= "LoadModule gemclone_module \"$SO\"\n";
    if ($o{dbd} // 1) {
        $t .= "DBDriver pgsql\nDBDParams \"host=127.0.0.1 port=1 user=postgres dbname=gemclone\"\n";
    }
    $t .= "GemCloneJWTSecret \"$secret\"\n" if defined $secret;
    $t .= "$o{main}\n" if defined $o{main};
    $t .= "<Location />\n    SetHandler gemclone\n</Location>\n";
    $t .= "$o{tail}\n" if defined $o{tail};
    return $t;
}

# configtest(NAME, %o) -> (exit status, output, file)
my $seq = 0;
sub configtest {
    my ($name, %o) = @_;
    my $file = File::Spec->catfile($dir, sprintf('case%02d.conf', ++$seq));
    open my $fh, '>', $file or die "$file: $!";
    print $fh config_text(%o);
    close $fh or die "$file: $!";
    my $out = qx{"$HTTPD" -t -f "$file" 2>&1};
    return ($? >> 8, $out, $file);
}

# passes(NAME, %o): exit 0 and "Syntax OK".
sub passes {
    my ($name, %o) = @_;
    my ($rc, $out) = configtest($name, %o);
    my $ok = is($rc, 0, "$name: configtest passes");
    $ok &= like($out, qr/Syntax OK/, "$name: Syntax OK");
    diag($out) unless $ok;
}

# fails(NAME, QR, %o): exit non-zero, output matching QR (the directive).
sub fails {
    my ($name, $re, %o) = @_;
    my ($rc, $out, $file) = configtest($name, %o);
    my $ok = isnt($rc, 0, "$name: configtest fails");
    $ok &= like($out, $re, "$name: the message says why");
    $ok &= unlike($out, qr/Syntax OK/, "$name: no Syntax OK");
    diag($out) unless $ok;
    return $out;
}

# ---- the baseline ---------------------------------------------------------------
passes('a minimal valid configuration');
passes('a secret of exactly 32 bytes', secret => 'x' x 32);

# ---- the JWT secret -----------------------------------------------------------------
fails('no GemCloneJWTSecret', qr/GemCloneJWTSecret is required/, secret => undef);
fails('a 31-byte secret', qr/GemCloneJWTSecret: must be at least 32 bytes/, secret => 'x' x 31);
fails('an unset ${VAR} as the secret', qr/GemCloneJWTSecret: .*unexpanded \$\{/,
      secret => "\${$UNSET}");
# httpd leaves "${VAR}" as 8+ literal bytes; padded past 32 it must still fail
fails('an unset ${VAR} inside a long secret', qr/GemCloneJWTSecret: .*unexpanded/,
      secret => "prefix-0123456789abcdef-\${$UNSET}-0123456789");
fails('GemCloneJWTSecret in a <Location>', qr/GemCloneJWTSecret.*not allowed|not allowed.*GemCloneJWTSecret/s,
      main => "<Location /x>\n    GemCloneJWTSecret \"$SECRET\"\n</Location>");

# ---- test-only settings -------------------------------------------------------------
fails('GemCloneTestClockFile without GemCloneTestMode',
      qr/GemCloneTestClockFile.*GemCloneTestMode/, main => "GemCloneTestClockFile \"$dir/clock\"");
fails('GemCloneTestClockFile with GemCloneTestMode Off',
      qr/GemCloneTestClockFile.*GemCloneTestMode/,
      main => "GemCloneTestMode Off\nGemCloneTestClockFile \"$dir/clock\"");
passes('GemCloneTestClockFile with GemCloneTestMode On',
       main => "GemCloneTestMode On\nGemCloneTestClockFile \"$dir/clock\"");
fails('GemClonePasswordIterations 1000 without test mode',
      qr/GemClonePasswordIterations.*GemCloneTestMode/, main => 'GemClonePasswordIterations 1000');
passes('GemClonePasswordIterations 1000 in test mode',
       main => "GemCloneTestMode On\nGemClonePasswordIterations 1000");
passes('GemClonePasswordIterations 600000 without test mode',
       main => 'GemClonePasswordIterations 600000');

# ---- numbers ----------------------------------------------------------------------------
fails('GemCloneOTPTTL abc', qr/GemCloneOTPTTL: 'abc' is not a whole number/, main => 'GemCloneOTPTTL abc');
fails('GemCloneOTPTTL 300s', qr/GemCloneOTPTTL/, main => 'GemCloneOTPTTL 300s');
fails('GemCloneOTPTTL -1', qr/GemCloneOTPTTL/, main => 'GemCloneOTPTTL -1');
fails('GemCloneOTPTTL 0', qr/GemCloneOTPTTL/, main => 'GemCloneOTPTTL 0');
fails('GemCloneOTPTTL 99999999999999999999 (overflow)', qr/GemCloneOTPTTL/,
      main => 'GemCloneOTPTTL 99999999999999999999');
fails('GemCloneOTPTTL from an unset ${VAR}', qr/GemCloneOTPTTL/, main => "GemCloneOTPTTL \${$UNSET}");
passes('GemCloneOTPTTL 300', main => 'GemCloneOTPTTL 300');
fails('GemCloneTokenLifetime 59', qr/GemCloneTokenLifetime/, main => 'GemCloneTokenLifetime 59');

# ---- the production OTP mode ---------------------------------------------------------
fails('GemCloneOTPDeliveryURL without the secret',
      qr/GemCloneOTPDeliveryURL and GemCloneOTPDeliverySecret must be set together/,
      main => 'GemCloneOTPDeliveryURL "http://127.0.0.1:1/otp"');
fails('GemCloneOTPDeliverySecret without the URL', qr/GemCloneOTPDeliverySecret/,
      main => 'GemCloneOTPDeliverySecret "delivery-secret"');
fails('GemCloneOTPDeliveryURL that is not http(s)', qr/GemCloneOTPDeliveryURL/,
      main => "GemCloneOTPDeliveryURL \"ftp://127.0.0.1/otp\"\nGemCloneOTPDeliverySecret \"s\"");
passes('GemCloneOTPDeliveryURL with its secret',
       main => "GemCloneOTPDeliveryURL \"https://sms.example/otp\"\nGemCloneOTPDeliverySecret \"s3cret\"");

# ---- mod_dbd ------------------------------------------------------------------------
{
    my $out = fails('no LoadModule dbd_module', qr/mod_dbd is not loaded/, dbd => 0);
    like($out, qr/LoadModule dbd_module/, 'no mod_dbd: the message says which LoadModule to add');
}

# ---- merging: a <VirtualHost> inherits what it does not set ----------------------------
passes('a vhost overriding GemCloneTokenLifetime, inheriting the secret',
       tail => "<VirtualHost 127.0.0.1:2>\n    GemCloneTokenLifetime 3600\n</VirtualHost>");
passes('a vhost inheriting GemCloneTestMode for cheap password hashes',
       main => "GemCloneTestMode On\nGemClonePasswordIterations 1000",
       tail => "<VirtualHost 127.0.0.1:2>\n    GemCloneOTPTTL 120\n</VirtualHost>");
passes('a vhost turning on the production OTP mode alone',
       tail => "<VirtualHost 127.0.0.1:2>\n    GemCloneOTPDeliveryURL \"http://127.0.0.1:1/otp\"\n"
             . "    GemCloneOTPDeliverySecret \"s3cret\"\n</VirtualHost>");
{
    my $out = fails('a vhost turning test mode off while inheriting 1000 iterations',
                    qr/GemClonePasswordIterations.*GemCloneTestMode/,
                    main => "GemCloneTestMode On\nGemClonePasswordIterations 1000",
                    tail => "<VirtualHost 127.0.0.1:2>\n    GemCloneTestMode Off\n</VirtualHost>");
    like($out, qr/case\d+\.conf:\d+/, 'the refusal names the virtual host\'s file and line');
}
fails('a vhost with a short secret of its own', qr/GemCloneJWTSecret: must be at least 32 bytes/,
      tail => "<VirtualHost 127.0.0.1:2>\n    GemCloneJWTSecret \"short\"\n</VirtualHost>");
passes('a vhost overriding only the OTP delivery URL, inheriting its secret',
       main => "GemCloneOTPDeliveryURL \"http://127.0.0.1:1/otp\"\nGemCloneOTPDeliverySecret \"s3cret\"",
       tail => "<VirtualHost 127.0.0.1:2>\n    GemCloneOTPDeliveryURL \"http://127.0.0.1:3/otp\"\n"
             . "</VirtualHost>");
fails('a vhost with a bad GemCloneRedisURL', qr/GemCloneRedisURL/,
      tail => "<VirtualHost 127.0.0.1:2>\n    GemCloneRedisURL \"http://127.0.0.1/\"\n</VirtualHost>");
fails('a vhost with a Redis of its own (one pool per child)',
      qr/GemCloneRedisURL may only be set in the main server/,
      tail => "<VirtualHost 127.0.0.1:2>\n    GemCloneRedisURL \"redis://127.0.0.1:6390/1\"\n</VirtualHost>");
