// The net.Socket under a ws server connection. ws keeps it in the private field `_socket`; the
// simulator writes its pre-encoded frame batches there (frames.ts) and ends it to drop a connection
// without a close frame. If a ws version ever lacks the field, the simulator falls back to ws.send
// and terminate() (slower, same frames) instead of silently writing nowhere.
import type { WebSocket } from 'ws';

export interface RawSocket {
  write(b: Buffer): boolean;
  end(): void;
  readonly destroyed: boolean;
}

export function rawSocketOf(ws: WebSocket): RawSocket | null {
  const s = (ws as unknown as { _socket?: Partial<RawSocket> })._socket;
  return s && typeof s.write === 'function' && typeof s.end === 'function' && typeof s.destroyed === 'boolean'
    ? (s as RawSocket)
    : null;
}
