// A Node `http` back for the harness: answers every request 200 with a small body.
//
//   node servers/node-back.js [--port N] [--keep-alive-timeout MS] [--keep-alive on|off] [--max-requests N]
//
// Each option may come from the environment instead: PORT, KEEP_ALIVE_TIMEOUT, KEEP_ALIVE, MAX_REQUESTS
// (argv wins). Defaults: port 0 (the kernel picks one), Node's own keepAliveTimeout (5000 ms in Node 20, 65000
// in Node 26), keep-alive on, no limit on requests per socket. Prints "listening PORT" once it accepts
// connections, and exits on SIGTERM or SIGINT.
'use strict';

const http = require('http');

function option(name, env, fallback) {
  const flag = `--${name}`;
  const at = process.argv.indexOf(flag);
  if (at >= 0 && at + 1 < process.argv.length) return process.argv[at + 1];
  const prefixed = process.argv.find((arg) => arg.startsWith(`${flag}=`));
  if (prefixed) return prefixed.slice(flag.length + 1);
  if (process.env[env] !== undefined) return process.env[env];
  return fallback;
}

function integer(name, raw) {
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(String(raw))) {
    console.error(`node-back: --${name} ${JSON.stringify(raw)} is not a non-negative integer`);
    process.exit(2);
  }
  return Number(raw);
}

const port = integer('port', option('port', 'PORT', '0'));
const keepAliveTimeout = integer('keep-alive-timeout', option('keep-alive-timeout', 'KEEP_ALIVE_TIMEOUT'));
const keepAliveRaw = String(option('keep-alive', 'KEEP_ALIVE', 'on')).toLowerCase();
if (!['on', 'off', 'true', 'false', '1', '0'].includes(keepAliveRaw)) {
  console.error(`node-back: --keep-alive ${JSON.stringify(keepAliveRaw)} is not on or off`);
  process.exit(2);
}
const keepAlive = ['on', 'true', '1'].includes(keepAliveRaw);
const maxRequests = integer('max-requests', option('max-requests', 'MAX_REQUESTS'));

const body = 'ok from node-back\n';
const server = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    const headers = { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) };
    if (!keepAlive) headers.connection = 'close';
    res.writeHead(200, headers);
    res.end(body);
  });
});
if (keepAliveTimeout !== undefined) server.keepAliveTimeout = keepAliveTimeout;
if (maxRequests !== undefined) server.maxRequestsPerSocket = maxRequests;

server.listen(port, '127.0.0.1', () => {
  console.log(`listening ${server.address().port}`);
});
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    server.close();
    server.closeAllConnections();
    process.exit(0);
  });
}
