/**
 * A TCP forwarder that holds every chunk for a fixed delay in each direction: a stand-in for
 * the network between Census and servers in another building, where an inventory spends its time
 * waiting rather than computing. Run in its own process so its work is not counted as Census's.
 *
 *   node --import tsx bench/scale/latency-proxy.ts LISTEN_PORT TARGET_HOST TARGET_PORT DELAY_MS
 */
import net from 'node:net';

const [listenPort, targetHost, targetPort, delayMs] = process.argv.slice(2);
const delay = Number(delayMs ?? 20);

function pipeDelayed(from: net.Socket, to: net.Socket) {
  from.on('data', (chunk) => setTimeout(() => to.writable && to.write(chunk), delay));
  from.on('end', () => setTimeout(() => to.end(), delay));
  from.on('error', () => to.destroy());
}

const server = net.createServer((client) => {
  const upstream = net.connect(Number(targetPort), targetHost!);
  pipeDelayed(client, upstream);
  pipeDelayed(upstream, client);
  client.on('close', () => upstream.destroy());
  upstream.on('close', () => client.destroy());
});
server.listen(Number(listenPort), '127.0.0.1', () => console.log(`proxy listening on ${(server.address() as net.AddressInfo).port}`));
