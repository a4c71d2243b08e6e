/**
 * A plain TCP forwarder listening on many loopback ports at once, each forwarding to one real
 * database server: it turns the machine's one PostgreSQL and one MariaDB into as many distinct
 * host:port pairs as the soak registers (Census refuses a second registration of the same
 * host:port:type). Runs in its own process so its work is not counted in the soak's latencies.
 *
 *   node --import tsx bench/soak/fanout-proxy.ts 127.0.0.1:5432x25 127.0.0.1:3306x25
 *
 * Prints one line `ports {"127.0.0.1:5432":[p1,…],"127.0.0.1:3306":[…]}` once every port listens.
 */
import net from 'node:net';

function forward(client: net.Socket, host: string, port: number): void {
  const upstream = net.connect(port, host);
  client.pipe(upstream);
  upstream.pipe(client);
  // Either side going away takes the other with it; errors are the client's or server's to see.
  const both = () => {
    client.destroy();
    upstream.destroy();
  };
  client.on('error', both).on('close', both);
  upstream.on('error', both).on('close', both);
}

function listen(host: string, port: number): Promise<number> {
  const server = net.createServer((c) => forward(c, host, port));
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port));
  });
}

const out: Record<string, number[]> = {};
for (const spec of process.argv.slice(2)) {
  const m = /^([^:]+):(\d+)x(\d+)$/.exec(spec);
  if (!m) throw new Error(`expected HOST:PORTxCOUNT, not ${spec}`);
  const [, host, port, count] = m;
  const ports: number[] = [];
  for (let i = 0; i < Number(count); i++) ports.push(await listen(host!, Number(port)));
  out[`${host}:${port}`] = ports;
}
console.log(`ports ${JSON.stringify(out)}`);
process.on('SIGTERM', () => process.exit(0));
