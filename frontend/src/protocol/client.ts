/**
 * The app's one socket to Grover: msgpack frames over a websocket, typed by
 * the generated `types.ts`.
 *
 * - Requests carry increasing ids; each gets its reply or error by id, or
 *   fails with `RequestTimeout` after `requestTimeoutMs`.
 * - When the socket drops, the client reconnects with jittered exponential
 *   backoff and resumes its session with `(session_id, last_seq)`: the server
 *   replays the events missed, and events already seen are skipped by `seq`.
 *   When the server cannot resume (another node, or too long away) the
 *   welcome says `resync`; listeners registered with `onResync` then refetch.
 * - `send` is for requests that carry a `client_key` (messages, posts...):
 *   they wait in an outbox while offline and are sent again, with the same
 *   key, after a reconnect when their reply did not arrive, so the server
 *   applies each once. `request` fails at once when offline.
 */
import { decode, encode } from "@msgpack/msgpack";

import type { ErrorCode, Outgoing, ReplyOf, RequestType, ServerEvent, Welcome } from "./types";
import { PROTOCOL_VERSION } from "./types";

/** What the client needs of a WebSocket (the browser's and React Native's have it). */
export interface SocketLike {
  binaryType: string;
  readonly readyState: number;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
}

export type SocketFactory = (url: string) => SocketLike;

/** The server answered with an error frame. */
export class GroverError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly retryAfter: number | null,
  ) {
    super(`${code}: ${message}`);
    this.name = "GroverError";
  }
}

/** The socket closed before the reply came (or was not open). */
export class ConnectionLost extends Error {
  constructor(readonly closeCode: number | null) {
    super(`connection lost (${closeCode ?? "not connected"})`);
    this.name = "ConnectionLost";
  }
}

export class RequestTimeout extends Error {
  constructor(readonly requestType: string) {
    super(`${requestType}: no reply in time`);
    this.name = "RequestTimeout";
  }
}

export type ConnectionState = "idle" | "connecting" | "open" | "reconnecting" | "closed";

export interface ClientOptions {
  url: string;
  token?: string | null;
  /** Defaults to the global `WebSocket`. */
  socket?: SocketFactory;
  requestTimeoutMs?: number;
  /** First and longest wait between reconnection attempts. */
  backoffMs?: [number, number];
  clientName?: string;
}

type Body<T extends RequestType> = Omit<Outgoing<T>, "type">;
type WithClientKey = { client_key: string };

interface Pending {
  type: string;
  resolve: (data: unknown) => void;
  reject: (error: Error) => void;
  timer: ReturnType<typeof setTimeout> | null;
  queued: Queued | null;
}

interface Queued {
  type: RequestType;
  body: object;
  resolve: (data: unknown) => void;
  reject: (error: Error) => void;
  sentAs: number | null;
}

/** Close codes after which reconnecting cannot help (see docs/protocol.md). */
const FINAL_CLOSES = new Set([4002, 4003, 4004]);

const TOKEN_REFUSED = new Set<ErrorCode>(["invalid_token", "token_expired"]);

/** Errors to a resuming `hello` that a later attempt may not get. */
const RETRYABLE = new Set<ErrorCode>(["overloaded", "timeout", "internal", "rate_limited"]);

export class GroverClient {
  sessionId: string | null = null;
  lastSeq = 0;
  token: string | null;
  state: ConnectionState = "idle";
  closeCode: number | null = null;

  private ws: SocketLike | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly outbox: Queued[] = [];
  private readonly eventListeners = new Set<(event: ServerEvent) => void>();
  private readonly resyncListeners = new Set<() => void>();
  private readonly stateListeners = new Set<(state: ConnectionState) => void>();
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private attempt = 0;
  private readonly options: Required<Omit<ClientOptions, "token">>;

  constructor(options: ClientOptions) {
    this.token = options.token ?? null;
    this.options = {
      url: options.url,
      socket: options.socket ?? ((url) => new WebSocket(url) as unknown as SocketLike),
      requestTimeoutMs: options.requestTimeoutMs ?? 10_000,
      backoffMs: options.backoffMs ?? [250, 5_000],
      clientName: options.clientName ?? "grover-app",
    };
  }

  /** Open the socket and say hello (resuming the session if there is one). */
  async connect(): Promise<Welcome> {
    this.setState(this.sessionId === null ? "connecting" : "reconnecting");
    const ws = await this.open();
    const welcome = (await this.call(
      "hello",
      {
        versions: [PROTOCOL_VERSION],
        token: this.token,
        resume: this.sessionId === null ? null : { session_id: this.sessionId, last_seq: this.lastSeq },
        client: this.options.clientName,
      },
      this.options.requestTimeoutMs,
      null,
      ws,
    )) as Welcome;
    this.sessionId = welcome.session_id;
    this.attempt = 0;
    if (welcome.resync) this.lastSeq = 0;
    this.setState("open");
    this.flushOutbox();
    // Open first: resync listeners fetch again with requests of their own.
    if (welcome.resync) for (const listener of this.resyncListeners) listener();
    return welcome;
  }

  /** A request and its typed reply; fails at once when not connected. */
  request<T extends RequestType>(
    type: T,
    body: Body<T>,
    timeoutMs = this.options.requestTimeoutMs,
  ): Promise<ReplyOf[T]> {
    if (this.state !== "open" || this.ws === null) {
      return Promise.reject(new ConnectionLost(this.closeCode));
    }
    return this.call(type, body, timeoutMs, null, this.ws) as Promise<ReplyOf[T]>;
  }

  /**
   * A request that is safe to repeat thanks to its `client_key`: queued while
   * offline, sent again after a reconnect until its reply arrives.
   */
  send<T extends RequestType>(type: T, body: Body<T> & WithClientKey): Promise<ReplyOf[T]> {
    return new Promise((resolve, reject) => {
      const entry: Queued = {
        type,
        body,
        resolve: resolve as (data: unknown) => void,
        reject,
        sentAs: null,
      };
      this.outbox.push(entry);
      if (this.state === "open") this.flushOutbox();
    });
  }

  /** Requests waiting in the outbox (sent or not). */
  get queued(): number {
    return this.outbox.length;
  }

  onEvent(listener: (event: ServerEvent) => void): () => void {
    this.eventListeners.add(listener);
    return () => this.eventListeners.delete(listener);
  }

  onResync(listener: () => void): () => void {
    this.resyncListeners.add(listener);
    return () => this.resyncListeners.delete(listener);
  }

  onState(listener: (state: ConnectionState) => void): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  /** Drop the socket as a lost network would; the client reconnects and resumes. */
  drop(): void {
    const ws = this.ws;
    if (ws === null) return;
    ws.close(4000, "dropped by the client");
    this.lost(ws, 1006); // offline from now, as with a lost network; its close is ignored
  }

  /** Close for good: no reconnection; queued sends fail. */
  close(): void {
    this.setState("closed");
    if (this.reconnectTimer !== null) clearTimeout(this.reconnectTimer);
    this.ws?.close(1000, "bye");
    this.ws = null;
    this.failPending(new ConnectionLost(1000));
    for (const entry of this.outbox.splice(0)) entry.reject(new ConnectionLost(1000));
  }

  // ------------------------------------------------------------------ internals

  private open(): Promise<SocketLike> {
    return new Promise((resolve, reject) => {
      const ws = this.options.socket(this.options.url);
      ws.binaryType = "arraybuffer";
      let opened = false;
      ws.onopen = () => {
        opened = true;
        this.ws = ws;
        this.nextId = 1;
        resolve(ws);
      };
      ws.onmessage = (event) => this.receive(event.data);
      ws.onerror = () => {
        if (!opened) reject(new ConnectionLost(null));
      };
      ws.onclose = (event) => {
        if (!opened) {
          reject(new ConnectionLost(event.code));
          return;
        }
        this.lost(ws, event.code);
      };
    });
  }

  private call(
    type: string,
    body: object,
    timeoutMs: number,
    queued: Queued | null,
    ws: SocketLike,
  ): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer =
        queued === null
          ? setTimeout(() => {
              this.pending.delete(id);
              reject(new RequestTimeout(type));
            }, timeoutMs)
          : null;
      this.pending.set(id, { type, resolve, reject, timer, queued });
      ws.send(encode({ ...body, type, id }));
    });
  }

  private flushOutbox(): void {
    const ws = this.ws;
    if (ws === null || this.state !== "open") return;
    for (const entry of this.outbox) {
      if (entry.sentAs !== null) continue;
      entry.sentAs = this.nextId;
      this.call(entry.type, entry.body, 0, entry, ws).then(
        (data) => {
          this.outbox.splice(this.outbox.indexOf(entry), 1);
          entry.resolve(data);
        },
        (error: Error) => {
          if (error instanceof ConnectionLost) return; // sent again after the reconnect
          this.outbox.splice(this.outbox.indexOf(entry), 1);
          entry.reject(error);
        },
      );
    }
  }

  private receive(data: unknown): void {
    const frame = decode(new Uint8Array(data as ArrayBuffer)) as
      | { type: "reply"; id: number; data: unknown }
      | { type: "error"; id: number | null; code: ErrorCode; message: string; retry_after?: number | null }
      | { type: "event"; seq: number; event: ServerEvent };
    if (frame.type === "event") {
      if (frame.seq <= this.lastSeq) return; // a replay overlapping what we have
      this.lastSeq = frame.seq;
      for (const listener of this.eventListeners) listener(frame.event);
      return;
    }
    const pending = frame.id === null ? undefined : this.pending.get(frame.id);
    if (pending === undefined) return;
    this.pending.delete(frame.id as number);
    if (pending.timer !== null) clearTimeout(pending.timer);
    if (frame.type === "reply") {
      this.remember(pending.type, frame.data);
      pending.resolve(frame.data);
    } else pending.reject(new GroverError(frame.code, frame.message, frame.retry_after ?? null));
  }

  /** The session's token, kept for the `hello` that resumes after a drop. */
  private remember(type: string, data: unknown): void {
    if (type === "auth.register" || type === "auth.login") {
      this.token = (data as { token: string }).token;
    } else if (type === "auth.logout" || type === "auth.logout_all") {
      this.token = null;
    }
  }

  private lost(ws: SocketLike, code: number): void {
    if (this.ws !== ws) return;
    this.ws = null;
    this.closeCode = code;
    for (const entry of this.outbox) entry.sentAs = null;
    this.failPending(new ConnectionLost(code));
    if (this.state === "closed" || FINAL_CLOSES.has(code)) {
      this.setState("closed");
      return;
    }
    this.setState("reconnecting");
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    // A socket that opens and closes before its hello is answered reports
    // twice (its close, and the failed connect): one attempt at a time.
    if (this.reconnectTimer !== null) return;
    const [first, longest] = this.options.backoffMs;
    const delay = Math.min(longest, first * 2 ** this.attempt) * (0.5 + Math.random());
    this.attempt += 1;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.connect().catch((error: unknown) => {
        if (error instanceof GroverError && TOKEN_REFUSED.has(error.code)) {
          this.token = null; // carry on logged out: the app sees the welcome's user is null
        } else if (error instanceof GroverError && !RETRYABLE.has(error.code)) {
          this.close();
          return;
        }
        if (this.state !== "closed") this.scheduleReconnect();
      });
    }, delay);
  }

  private failPending(error: Error): void {
    for (const [id, pending] of this.pending) {
      this.pending.delete(id);
      if (pending.timer !== null) clearTimeout(pending.timer);
      pending.reject(error);
    }
  }

  private setState(state: ConnectionState): void {
    if (this.state === state) return;
    this.state = state;
    for (const listener of this.stateListeners) listener(state);
  }
}
