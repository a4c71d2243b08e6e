/**
 * A TCP relay on a free loopback port in front of a local server, for tests that watch what a
 * client sends: `watch` is called once a connection and returns what sees each chunk the client
 * sends (passed on unchanged). close() ends every connection and the listener.
 */
import net from 'node:net';

export async function startTcpRelay(
  targetPort: number,
  watch: () => (chunk: Buffer) => void = () => () => {},
): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, '127.0.0.1');
    for (const s of [client, upstream]) sockets.add(s);
    const see = watch();
    client.on('data', see);
    client.pipe(upstream);
    upstream.pipe(client);
    const done = () => { client.destroy(); upstream.destroy(); sockets.delete(client); sockets.delete(upstream); };
    client.on('error', done).on('close', done);
    upstream.on('error', done).on('close', done);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => new Promise<void>((resolve) => { for (const s of sockets) s.destroy(); server.close(() => resolve()); }),
  };
}
