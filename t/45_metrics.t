# GET /metrics: Prometheus text; request counters shared by every child
# (the suite runs two), gauges read at scrape time.
use strict;
use warnings FATAL => 'all';

use Apache::Test qw(-withtestmore);
use GC::Test;

plan tests => 14;

# The value of one sample line, or 0 when the series is absent.
sub metric {
    my ($text, $series) = @_;
    for my $line (split /\n/, $text) {
        return $1 if index($line, "$series ") == 0 && $line =~ / (\d+)$/;
    }
    return 0;
}

sub scrape {
    my ($st, $h, undef, $raw) = api_get('/metrics');
    return ($st, $h, $raw);
}

my $health = 'gemclone_http_requests_total{method="GET",route="/health",code="2xx"}';
my $missing = 'gemclone_http_requests_total{method="",route="(none)",code="4xx"}';

my ($st, $h, $text) = scrape();
is $st, 200, 'GET /metrics is 200';
like $h->{'content-type'}, qr{^text/plain; version=0\.0\.4}, 'Prometheus text format';
like $text, qr/^# TYPE gemclone_http_requests_total counter$/m, 'the request counter is typed';
ok defined $h->{'x-request-id'}, 'X-Request-Id as on every response';

my $before = metric($text, $health);
my $before_404 = metric($text, $missing);
api_get('/health') for 1 .. 20;            # spread over both children
api_get('/no/such/thing') for 1 .. 3;
(undef, undef, $text) = scrape();
is metric($text, $health) - $before, 20,
   'twenty GET /health counted once each, whichever child answered';
is metric($text, $missing) - $before_404, 3, 'unknown paths are counted as (none) 4xx';

like $text, qr/^gemclone_dependency_up\{dependency="postgres"\} 1$/m, 'postgres up';
like $text, qr/^gemclone_dependency_up\{dependency="redis"\} 1$/m, 'redis up';
my ($pending) = psql_row("SELECT count(*) FROM messages WHERE status = 'pending' AND role = 'model'");
ok defined metric($text, 'gemclone_replies_pending'), 'pending replies gauge present';
cmp_ok abs(metric($text, 'gemclone_replies_pending') - $pending), '<=', 2,
    'pending replies gauge matches the database';
like $text, qr/^gemclone_jobs_queued \d+$/m, 'queued jobs gauge present';

($st, $h) = api_head('/metrics');
is $st, 200, 'HEAD /metrics works';

($st, $h) = api_post('/metrics', json => {});
is $st, 405, 'POST /metrics is 405';
is $h->{allow}, 'GET, HEAD', 'Allow: GET, HEAD';
