const net = require('net');
const { Connection } = require('@temporalio/client');
const local = process.argv[2] === 'local';
const srv = net.createServer((s) => { const t0 = Date.now(); s.on('close', () => console.log('server side socket closed after', Date.now() - t0)); }).listen(0, '127.0.0.1', async () => {
  const address = `127.0.0.1:${srv.address().port}`;
  const c = Connection.lazy({ address, connectTimeout: 2000, channelArgs: local ? { 'grpc.use_local_subchannel_pool': 1 } : {} });
  try { await c.ensureConnected(); } catch (e) { console.log('ensure failed', e.message); }
  await c.close(); console.log('closed');
  srv.close(() => console.log('srv closed'));
});
setTimeout(() => { console.log('stuck'); process.exit(1); }, 20000).unref();
