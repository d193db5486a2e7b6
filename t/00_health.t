# The harness proves itself: the module answers, and answers JSON.
use strict;
use warnings FATAL => 'all';

use Apache::Test qw(-withtestmore);
use GC::Test;

plan tests => 9;

my ($st, $h, $b) = api_get('/health');
is $st, 200, 'GET /health is 200';
like $h->{'content-type'} // '', qr{^application/json}, 'GET /health is JSON';
is ref $b, 'HASH', 'GET /health has a JSON object body';
ok $b->{success}, 'GET /health: success is true';
ok exists $b->{message}, 'GET /health carries a message';

($st, $h, $b) = api_get('/no/such/path');
is $st, 404, 'unknown path is 404';
is ref $b, 'HASH', 'unknown path has a JSON body';
ok defined $b && !$b->{success}, 'unknown path: success is false';
is $b->{error}{code}, 'NOT_FOUND', 'unknown path: error code NOT_FOUND';
